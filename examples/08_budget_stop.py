"""A tight budget: the agent is stopped BEFORE the call that could overspend."""

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=0.002) as rt:
    client = openai.OpenAI(**env.openai)
    done = 0
    try:
        while True:
            client.chat.completions.create(
                model="gpt-4o", max_tokens=100, messages=[{"role": "user", "content": f"Lead #{done + 1}?"}]
            )
            done += 1
    except ic.BudgetExceededError as exc:
        print(f"stopped after {done} calls: {exc}")
    print(f"spent ${rt.spent_usd:.6f} of $0.002 (overspend: {max(0.0, rt.spent_usd - 0.002):.6f})")
    client.close()
