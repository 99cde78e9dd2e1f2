"""CrewAI: a crew that runs within its budget, then one stopped before the model call that
would overspend (BudgetExceededError out of kickoff; run it in the CrewAI environment)."""

import os
import sys

os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _env import example_env
from crewai import LLM, Agent, Crew, Task

import iron_cage as ic
from iron_cage.integrations.crewai import kickoff


def crew(llm: LLM, leads: list[str]) -> Crew:
    agent = Agent(role="Qualifier", goal="Score B2B leads", backstory="Fast.", llm=llm)
    tasks = [Task(description=f"Score {lead}", expected_output="a score", agent=agent) for lead in leads]
    return Crew(agents=[agent], tasks=tasks)


with example_env() as env:
    if env.fake:
        env.fake.script_reply("Score 9; the buyer is dana@initech-private.com.", at_request=1)
    llm = LLM(model="gpt-4o", base_url=env.openai_base_url, api_key=env.openai_key, max_tokens=60)
    rt = ic.AgentRuntime(budget=0.004)
    print("first crew:", kickoff(crew(llm, ["Initech"]), rt))
    try:
        kickoff(crew(llm, [f"Lead {n}" for n in range(50)]), rt)
    except ic.BudgetExceededError as exc:
        print(f"second crew stopped: {exc}")
    calls, over = rt.metrics()["calls"], max(0.0, rt.spent_usd - 0.004)
    print(f"{calls} model calls, spent ${rt.spent_usd:.6f} of $0.004 (overspend: {over:.6f})")
