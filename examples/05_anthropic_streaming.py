"""Streaming with the Anthropic client: text arrives redacted, usage is charged at the end."""

import anthropic
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=0.50) as rt:
    if env.fake:
        env.fake.script_reply("The account number is DE89 3704 0044 0532 0130 00, keep it safe.")
    client = anthropic.Anthropic(**env.anthropic)
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=200, messages=[{"role": "user", "content": "Which account?"}]
    ) as stream:
        for text in stream.text_stream:
            print(text, end="", flush=True)
    print()
    print(f"spent ${rt.spent_usd:.6f}; findings {rt.metrics()['pii_findings']}")
    client.close()
