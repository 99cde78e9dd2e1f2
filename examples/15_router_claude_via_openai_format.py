"""An OpenAI-format client calling Claude: the router translates to Anthropic Messages and back."""

import openai
from _env import example_env

import iron_cage as ic

with (
    example_env() as env,
    ic.LlmRouter(
        budget=1.00,
        provider_key=env.openai_key,
        anthropic_key=env.anthropic_key,
        upstream=env.openai_base_url,
        anthropic_upstream=env.openai_base_url,
    ) as router,
):
    client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
    r = client.chat.completions.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi Claude"}],
    )
    print(r.choices[0].message.content, "| finish:", r.choices[0].finish_reason)
    print(router.metrics()["by_model"])
    client.close()
