"""One budget across providers; metrics break cost down by model."""

import anthropic
import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=1.00) as rt:
    gpt = openai.OpenAI(**env.openai)
    claude = anthropic.Anthropic(**env.anthropic)
    question = "Summarise why agents need circuit breakers, in one sentence."
    gpt.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    claude.messages.create(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": question}]
    )
    for model, row in rt.metrics()["by_model"].items():
        print(f"{model:20s} {row['calls']} call(s)  ${row['cost_usd']:.6f}")
    print(f"total ${rt.spent_usd:.6f}")
    gpt.close()
    claude.close()
