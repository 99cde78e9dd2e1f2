"""pydantic-ai: streamed runs (run_stream) redacted as they stream, then agent runs in a loop
until the budget stops them before the call that could overspend."""

import asyncio

from _env import example_env
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings

import iron_cage as ic


async def main() -> None:
    with example_env() as env:
        if env.fake:
            env.fake.script_reply("Dear Dana, reply to sales@ironcage-private.com to book a demo.")
        provider = OpenAIProvider(base_url=env.openai_base_url, api_key=env.openai_key)
        writer = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider), instructions="Write briefly.")
        with ic.AgentRuntime(budget=0.05) as rt:
            async with writer.run_stream("Draft an outreach e-mail to Initech") as result:
                async for text in result.stream_text(delta=True):
                    print(text, end="", flush=True)
            print(f"\nstreamed run: spent ${rt.spent_usd:.6f}")

        looper = Agent(
            OpenAIChatModel("gpt-4o", provider=provider), model_settings=ModelSettings(max_tokens=80)
        )
        runs = 0
        with ic.AgentRuntime(budget=0.003) as rt:
            try:
                while True:
                    await looper.run(f"Score lead #{runs + 1}")
                    runs += 1
            except ic.BudgetExceededError:
                print(f"stopped by the budget after {runs} runs: spent ${rt.spent_usd:.6f} of $0.003")
        await provider.client.close()


asyncio.run(main())
