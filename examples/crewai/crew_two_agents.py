"""CrewAI: a researcher and a writer in a sequential crew, the writer's task reading the
researcher's output (context=); one runtime governs both agents' calls (run it in the
CrewAI environment, `make test-crewai`)."""

import os
import sys

os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _env import example_env
from crewai import LLM, Agent, Crew, Process, Task

import iron_cage as ic
from iron_cage.integrations.crewai import govern

with example_env() as env:
    if env.fake:
        env.fake.script_reply("Initech: 4,000 offices, CTO Dana owns the agent budget.", at_request=1)
        env.fake.script_reply(
            "Dana, cut your agent spend by 30%. Reply to dana@initech-private.com.", at_request=2
        )
    llm = LLM(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key)
    researcher = Agent(role="Researcher", goal="Find facts on leads", backstory="Thorough.", llm=llm)
    writer = Agent(role="Writer", goal="Write short outreach e-mails", backstory="Concise.", llm=llm)
    research = Task(description="Research Initech", expected_output="three facts", agent=researcher)
    email = Task(
        description="Write the outreach e-mail", expected_output="two lines", agent=writer, context=[research]
    )
    rt = ic.AgentRuntime(budget=0.05)
    with govern(rt) as stats:
        result = Crew(
            agents=[researcher, writer], tasks=[research, email], process=Process.sequential
        ).kickoff()
    print("research:", research.output.raw if research.output else "")
    print("e-mail:", result)
    print(
        f"{stats.llm_calls} model calls, by model {list(rt.metrics()['by_model'])}, spent ${rt.spent_usd:.6f}"
    )
