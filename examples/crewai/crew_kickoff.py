"""CrewAI: a two-task crew governed by one runtime (run it in the CrewAI environment:
`.venv-crewai/bin/python examples/crewai/crew_kickoff.py`; CrewAI pins openai<3)."""

import os
import sys

os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _env import example_env
from crewai import LLM, Agent, Crew, Task

import iron_cage as ic
from iron_cage.integrations.crewai import govern

with example_env() as env:
    if env.fake:
        env.fake.script_reply("Score 9: decision maker; reach her at cto@initech-private.com", at_request=2)
    llm = LLM(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key)
    researcher = Agent(role="Researcher", goal="Qualify B2B leads", backstory="Careful and brief.", llm=llm)
    tasks = [
        Task(description=f"Qualify {company}", expected_output="a score and a reason", agent=researcher)
        for company in ("Globex", "Initech")
    ]
    rt = ic.AgentRuntime(budget=0.05)
    with govern(rt) as stats:
        result = Crew(agents=[researcher], tasks=tasks).kickoff()
    print(result)
    found = rt.metrics()["pii_findings"]
    print(f"{stats.llm_calls} model calls, PII findings {found}, spent ${rt.spent_usd:.6f}")
