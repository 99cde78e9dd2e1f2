"""A failing provider: after 5 consecutive errors the breaker opens and calls stop reaching it."""

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=0.50, failure_threshold=5, cooldown_s=30) as rt:
    if env.fake:
        env.fake.fail_next(503, times=10)
    client = openai.OpenAI(**env.openai)
    for attempt in range(1, 8):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            print(f"call {attempt}: ok")
        except openai.APIStatusError as exc:
            print(f"call {attempt}: provider error {exc.status_code}")
        except ic.CircuitOpenError as exc:
            print(f"call {attempt}: not sent, breaker open (retry in {exc.retry_after_s:.0f}s)")
    print("breakers:", rt.metrics()["breakers"])
    client.close()
