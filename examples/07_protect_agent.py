"""@protect_agent: each run of the agent gets its own budget and governance, zero config."""

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env:

    @ic.protect_agent(budget=0.05, safety_mode="redact")
    def research_agent(topic: str) -> str:
        with openai.OpenAI(**env.openai) as client:
            outline = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"Outline: {topic}"}]
            )
            rt = ic.sdk.current_runtime()
            assert rt is not None
            print(f"  [{topic}] spent ${rt.spent_usd:.6f} of this run's $0.05")
            return outline.choices[0].message.content or ""

    for topic in ("agent budgets", "PII in LLM output"):
        print(research_agent(topic)[:80])
