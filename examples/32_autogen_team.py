"""AutoGen AgentChat: a writer/critic RoundRobinGroupChat on autogen-ext's OpenAI client,
governed call by call by a plain AgentRuntime scope; the writer's draft is redacted."""

import asyncio
import warnings

from _env import example_env
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_ext.models.openai import OpenAIChatCompletionClient

import iron_cage as ic

warnings.filterwarnings("ignore", "Resolved model mismatch")  # dated model names in replies


async def main() -> None:
    with example_env() as env:
        if env.fake:
            env.fake.script_reply(
                "Draft: Dana, cut agent spend 30%. Reply to dana@initech-private.com.", at_request=1
            )
            env.fake.script_reply("Good and short. APPROVE", at_request=2)
        client = OpenAIChatCompletionClient(
            model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0
        )
        writer = AssistantAgent("writer", model_client=client, system_message="Write a two-line pitch.")
        critic = AssistantAgent(
            "critic", model_client=client, system_message="Review it; say APPROVE when done."
        )
        done = TextMentionTermination("APPROVE") | MaxMessageTermination(6)
        team = RoundRobinGroupChat([writer, critic], termination_condition=done)
        with ic.AgentRuntime(budget=0.05) as rt:
            result = await team.run(task="Pitch iron-cage to Initech's CTO")
            for message in result.messages:
                print(f"{message.source}: {message.to_text()[:90]}")
            m = rt.metrics()
            print(f"stop: {result.stop_reason}; {m['calls']} model calls, spent ${rt.spent_usd:.6f}")
        await client.close()


asyncio.run(main())
