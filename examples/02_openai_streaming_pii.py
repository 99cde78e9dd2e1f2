"""Streamed replies are scanned as they arrive: PII split across chunks is still redacted."""

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=1.00, safety_mode="redact") as rt:
    if env.fake:
        env.fake.script_reply("Sure - write to jane.roe@example.com or call (415) 555-2671.")
    client = openai.OpenAI(**env.openai)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "How do I reach Jane?"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()
    print(f"PII findings: {rt.metrics()['pii_findings']}, spent ${rt.spent_usd:.6f}")
    client.close()
