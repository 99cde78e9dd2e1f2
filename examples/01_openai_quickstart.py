"""Govern an OpenAI client in-process: every call priced, reserved, charged and scanned."""

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=1.00) as rt:
    client = openai.OpenAI(**env.openai)  # created inside the runtime: governed automatically
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Name one benefit of budgets for AI agents."}],
    )
    print(reply.choices[0].message.content)
    print(f"spent ${rt.spent_usd:.6f}, ${rt.remaining_usd:.6f} left")
    client.close()
