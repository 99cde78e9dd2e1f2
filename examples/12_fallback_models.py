"""Fall back to a cheaper model while the primary's breaker is open; report the fallback rate."""

import contextlib

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=0.50) as rt:
    client = openai.OpenAI(**env.openai)
    if env.fake:  # the primary model goes down: 5 failures open its breaker
        env.fake.fail_next(503, times=5)
        for _ in range(5):
            with contextlib.suppress(openai.APIStatusError):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}])

    def ask(model: str):
        def call(question: str) -> str:
            r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
            return r.choices[0].message.content or ""

        return call

    chain = ic.FallbackChain([("gpt-4o", ask("gpt-4o")), ("gpt-4o-mini", ask("gpt-4o-mini"))])
    for i in range(10):
        chain(f"Question {i}")
    print(chain.summary())
    print({m: round(r["cost_usd"], 6) for m, r in rt.metrics()["by_model"].items()})
    client.close()
