"""iron_cage.testing: MockRuntime, helpers and the pytest fixtures."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import anthropic
import openai
import pytest

import iron_cage as ic
from iron_cage.testing import (
    FakeProvider,
    MockRuntime,
    assert_budget_exceeded,
    assert_pii_detected,
    pii_samples,
    provider_response,
)

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

MSG: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
# Nothing listens here: a call that reached the network would fail to connect.
NOWHERE = "http://127.0.0.1:9/v1"


def test_mock_runtime_answers_in_process_with_real_engines() -> None:
    with (
        MockRuntime(budget=1.0, replies=["Mail jane.roe@example.com"]) as rt,
        openai.OpenAI(base_url=NOWHERE, api_key="k", max_retries=0) as client,
    ):
        r = client.chat.completions.create(model="gpt-4o", messages=MSG)
        assert r.choices[0].message.content == "Mail [EMAIL_REDACTED]"
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed.startswith("Reply 2 from gpt-4o")
        usages = [r.usage] + [c.usage for c in chunks if c.usage is not None]
        expected = sum(ic.cost_of("gpt-4o", u.model_dump()) for u in usages if u is not None)
        assert len(usages) == 2
        assert rt.spent_usd == pytest.approx(expected, abs=1e-9)
    assert [c["request"]["model"] for c in rt.calls] == ["gpt-4o", "gpt-4o"]
    assert rt.calls[1]["request"]["stream_options"] == {"include_usage": True}
    assert rt.metrics()["pii_findings"] == 1


def test_mock_runtime_budget_and_async_anthropic() -> None:
    async def run() -> None:
        async with MockRuntime(budget=0.0001) as rt:
            client = anthropic.AsyncAnthropic(
                base_url=NOWHERE.removesuffix("/v1"), api_key="k", max_retries=0
            )
            with assert_budget_exceeded() as info:
                await client.messages.create(
                    model="claude-haiku-4-5", max_tokens=4000, messages=[{"role": "user", "content": "x"}]
                )
            assert "budget exceeded" in str(info.value)
            assert rt.calls == []
            await client.close()

    asyncio.run(run())


def test_assert_budget_exceeded_fails_when_nothing_is_raised() -> None:
    with pytest.raises(AssertionError, match="within its budget"), assert_budget_exceeded():
        pass


@pytest.mark.parametrize(
    "entity", ["EMAIL", "PHONE", "US_SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "MAC_ADDRESS", "API_KEY"]
)
def test_pii_samples_are_valid_and_deterministic(entity: str) -> None:
    samples = pii_samples(entity, n=20, seed=3)
    assert samples == pii_samples(entity, n=20, seed=3)
    assert len(set(samples)) > 15
    for value in samples:
        found = assert_pii_detected(f"value: {value} end", entity)
        assert found[0].end - found[0].start == len(value)


def test_assert_pii_detected_reports_what_it_saw() -> None:
    with pytest.raises(AssertionError, match="expected US_SSN"):
        assert_pii_detected("write to a@b.co", "US_SSN")
    with pytest.raises(ValueError, match="unknown entity"):
        pii_samples("PASSPORT")


def test_provider_response_shapes() -> None:
    chat = provider_response("hi there")
    assert chat["choices"][0]["message"]["content"] == "hi there"
    assert chat["usage"]["completion_tokens"] == ic.count_tokens("gpt-4o-mini", "hi there")
    msg = provider_response("hey", model="claude-haiku-4-5", api="messages")
    assert msg["content"][0]["text"] == "hey" and msg["usage"]["output_tokens"] > 0
    sse = provider_response("streamed", stream=True)
    events = [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: {")]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]) == "streamed"
    assert events[-1]["usage"]["completion_tokens"] > 0


def test_plugin_fixtures(fake_provider: FakeProvider, governed_runtime: ic.AgentRuntime) -> None:
    with openai.OpenAI(base_url=fake_provider.base_url, api_key="k", max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert governed_runtime.metrics()["calls"] == 1
    assert fake_provider.request_count == 1


def test_mock_runtime_fixture(mock_runtime: MockRuntime) -> None:
    with openai.OpenAI(base_url=NOWHERE, api_key="k", max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert len(mock_runtime.calls) == 1
