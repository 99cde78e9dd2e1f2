"""Anthropic's client is governed the same way (Claude prices, cache-aware usage)."""

import anthropic
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=0.50) as rt:
    client = anthropic.Anthropic(**env.anthropic)
    message = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": "One tip for prompt caching?"}],
    )
    print(message.content[0].text)
    usage = message.usage
    print(f"input {usage.input_tokens} / output {usage.output_tokens} tokens, spent ${rt.spent_usd:.6f}")
    client.close()
