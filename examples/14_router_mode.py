"""Router mode: a local OpenAI-compatible proxy any framework can use by changing base_url."""

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env:
    upstream = env.openai_base_url  # None: the real OpenAI API
    with ic.LlmRouter(budget=1.00, provider_key=env.openai_key, upstream=upstream) as router:
        client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
        for _ in range(2):  # the first call of a process also loads the tokenizer (~0.2 s)
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello through the router"}]
            )
        print(raw.parse().choices[0].message.content)
        print(
            f"router overhead {raw.headers['x-iron-cage-overhead-us']} us; spent/limit {router.budget_status}"
        )
        client.close()
