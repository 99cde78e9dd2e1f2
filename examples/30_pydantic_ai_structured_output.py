"""pydantic-ai: an agent with a typed output (NativeOutput, JSON schema); PII is redacted in
the reply before pydantic validates it, and the agent's client is governed at send time."""

import asyncio

from _env import example_env
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

import iron_cage as ic


class Lead(BaseModel):
    company: str
    contact: str
    score: int


async def main() -> None:
    with example_env() as env:
        if env.fake:
            env.fake.script_reply('{"company": "Initech", "contact": "dana@initech-private.com", "score": 8}')
            env.fake.script_reply('{"company": "Globex", "contact": "hank@globex-private.com", "score": 6}')
        provider = OpenAIProvider(base_url=env.openai_base_url, api_key=env.openai_key)
        agent = Agent(
            OpenAIChatModel("gpt-4o-mini", provider=provider),
            output_type=NativeOutput(Lead),
            instructions="Qualify the lead. Reply with the JSON object only.",
        )
        with ic.AgentRuntime(budget=0.05) as rt:
            for company in ("Initech", "Globex"):
                lead = (await agent.run(f"Qualify {company}")).output
                print(f"{lead.company}: score {lead.score}, contact {lead.contact}")
            print(f"{rt.metrics()['pii_findings']} PII findings redacted; spent ${rt.spent_usd:.6f}")
        await provider.client.close()


asyncio.run(main())
