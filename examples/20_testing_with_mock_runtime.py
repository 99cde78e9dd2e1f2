"""Unit-test an agent with MockRuntime: no sockets, real budget and PII engines, recorded calls."""

import openai

from iron_cage.testing import MockRuntime, assert_budget_exceeded, assert_pii_detected


def summarise(client: openai.OpenAI, text: str) -> str:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    return r.choices[0].message.content or ""


with MockRuntime(budget=0.01, replies=["Contact: jane.roe@example.com"]) as rt:
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="unused", max_retries=0)
    answer = summarise(client, "Who is the contact?")
    assert answer == "Contact: [EMAIL_REDACTED]"
    assert rt.calls[0]["request"]["messages"][0]["content"] == "Who is the contact?"
    assert_pii_detected("Contact: jane.roe@example.com", "EMAIL")
    client.close()

with MockRuntime(budget=0.00001) as rt, assert_budget_exceeded():
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="unused", max_retries=0)
    client.chat.completions.create(
        model="gpt-4o", max_tokens=500, messages=[{"role": "user", "content": "x"}]
    )
print("all checks passed")
