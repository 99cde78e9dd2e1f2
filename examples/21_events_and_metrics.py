"""Events (llm_call, pii_detected, budget_threshold, breaker_state ...) and metrics for dashboards."""

import json

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=ic.Budget(0.0005, thresholds=[0.5, 0.9])) as rt:
    rt.on_event(
        lambda e: print(
            "event:",
            json.dumps({k: e[k] for k in e if k in ("type", "model", "cost_usd", "entity", "threshold")}),
        )
    )
    if env.fake:
        env.fake.script_reply("Reach me at sam@example.org", at_request=2)
    client = openai.OpenAI(**env.openai)
    for i in range(6):
        try:
            client.chat.completions.create(
                model="gpt-4o-mini", max_tokens=300, messages=[{"role": "user", "content": f"#{i}"}]
            )
        except ic.BudgetExceededError:
            break
    print(json.dumps(rt.metrics(), indent=1)[:400])
    client.close()
