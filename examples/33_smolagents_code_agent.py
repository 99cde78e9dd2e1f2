"""smolagents: a CodeAgent with a tool, on OpenAIServerModel, governed by a plain
AgentRuntime scope; its final answer comes back redacted."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from _env import example_env
from smolagents import CodeAgent, OpenAIServerModel, tool

import iron_cage as ic


@tool
def lead_score(company: str) -> int:
    """Score a sales lead from 1 to 10.

    Args:
        company: The company's name.
    """
    return 8 if company == "Initech" else 5


with example_env() as env:
    if env.fake:
        env.fake.script_reply(
            'Thought: score it.\n<code>\nscore = lead_score("Initech")\nprint(score)\n</code>'
        )
        env.fake.script_reply(
            "Thought: done.\n<code>\n"
            'final_answer(f"Initech scores {score}; contact dana@initech-private.com")\n</code>'
        )
    model = OpenAIServerModel(model_id="gpt-4o-mini", api_base=env.openai_base_url, api_key=env.openai_key)
    agent = CodeAgent(tools=[lead_score], model=model, verbosity_level=-1, max_steps=5)
    with ic.AgentRuntime(budget=0.05) as rt:
        answer = agent.run("Qualify Initech with the lead_score tool and give a contact.")
        m = rt.metrics()
    print("answer:", answer)
    print(
        f"{m['calls']} model calls (agent steps), PII findings {m['pii_findings']}, spent ${rt.spent_usd:.6f}"
    )
