"""OpenAI Agents SDK: every model call of every agent run governed by one runtime."""

import asyncio

from _env import example_env
from agents import Agent, Runner, function_tool, set_tracing_disabled

import iron_cage as ic
from iron_cage.integrations.openai_agents import IronCageRunHooks, use_runtime

set_tracing_disabled(True)


@function_tool
def lead_score(company: str) -> int:
    """Score a lead from 1 to 10."""
    return 7 if "Labs" in company else 5


async def main() -> None:
    with example_env() as env:
        rt = ic.AgentRuntime(budget=0.05)
        client = use_runtime(rt, **env.openai)
        agent = Agent(
            name="qualifier", instructions="Qualify leads briefly.", model="gpt-4o-mini", tools=[lead_score]
        )
        hooks = IronCageRunHooks(rt)
        for company in ("Umbrella Labs", "Initech"):
            result = await Runner.run(agent, f"Qualify {company}", hooks=hooks)
            print(f"{company}: {result.final_output}")
        print(f"{hooks.llm_calls} model calls, spent ${rt.spent_usd:.6f} of $0.05")
        await client.close()


asyncio.run(main())
