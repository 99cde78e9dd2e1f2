"""32 concurrent async calls share one budget; together they can never overspend it."""

import asyncio

import openai
from _env import example_env

import iron_cage as ic


async def main() -> None:
    with example_env() as env:
        async with ic.AgentRuntime(budget=0.002) as rt, openai.AsyncOpenAI(**env.openai) as client:

            async def ask(i: int) -> str:
                try:
                    await client.chat.completions.create(
                        model="gpt-4o-mini",
                        max_tokens=200,
                        messages=[{"role": "user", "content": f"Fact #{i}?"}],
                    )
                    return "ok"
                except ic.BudgetExceededError:
                    return "refused"

            results = await asyncio.gather(*(ask(i) for i in range(32)))
            print(f"{results.count('ok')} answered, {results.count('refused')} refused before sending")
            print(f"spent ${rt.spent_usd:.6f} of $0.002 - never more")


asyncio.run(main())
