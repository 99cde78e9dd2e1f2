"""Every refusal carries its data: the exception's attributes in library mode, the
error body's ``iron_cage`` member in router mode, with the status and code both
modes share (they come from the Rust core, not from tables in Python)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

import iron_cage as ic
from iron_cage.testing import FakeProvider

MSG: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def client(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)


def test_budget_refusal_carries_the_numbers_in_both_modes(fake: FakeProvider) -> None:
    with ic.AgentRuntime(budget=0.01, name="research") as rt, client(fake) as c:
        c.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
        spent = rt.spent_usd
        with pytest.raises(ic.BudgetExceededError) as info:
            c.chat.completions.create(model="gpt-4", max_tokens=1_000, messages=MSG)
    e = info.value
    assert (e.status, e.code, e.budget) == (402, "budget_exceeded", "research")
    assert e.limit_usd == pytest.approx(0.01)
    assert e.spent_usd == pytest.approx(spent) and spent > 0
    assert e.requested_usd > e.remaining_usd == pytest.approx(0.01 - spent)
    assert e.requested_usd >= ic.cost_of("gpt-4", {"prompt_tokens": 8, "completion_tokens": 1_000})
    with ic.LlmRouter(budget=0.01, provider_key="k", upstream=fake.base_url) as router:
        r = httpx2.post(
            f"{router.base_url}/chat/completions",
            json={"model": "gpt-4", "max_tokens": 1_000, "messages": MSG},
            headers={"authorization": f"Bearer {router.api_key}"},
        )
    body = r.json()["error"]
    assert (r.status_code, body["code"]) == (402, "budget_exceeded")
    data = body["iron_cage"]
    assert data["limit_usd"] == pytest.approx(0.01) and data["spent_usd"] == 0
    assert data["requested_usd"] > data["remaining_usd"] == pytest.approx(0.01)


def test_pii_block_carries_its_findings_json_and_streamed(fake: FakeProvider) -> None:
    fake.script_reply("Write to jane.roe@example.com or call (415) 555-2671.", at_request=1)
    fake.script_reply("Mail jane.roe@example.com now.", at_request=2)
    with ic.AgentRuntime(budget=1.0, safety_mode="block") as rt, client(fake) as c:
        with pytest.raises(ic.PiiBlockedError) as json_reply:
            c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        with pytest.raises(ic.PiiBlockedError) as streamed:
            for _ in c.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True):
                pass
        assert rt.metrics()["calls"] == 2  # both charged: the provider billed them
    e = json_reply.value
    assert (e.status, e.code) == (422, "pii_blocked")
    assert sorted(f.entity for f in e.findings) == ["EMAIL", "PHONE"]
    assert all(len(f.value_hmac) == 64 and "jane" not in repr(f) for f in e.findings)
    assert [f.entity for f in streamed.value.findings] == ["EMAIL"]
    fake.script_reply("Mail jane.roe@example.com now.", at_request=3)
    with ic.LlmRouter(budget=1.0, provider_key="k", upstream=fake.base_url, safety_mode="block") as router:
        r = httpx2.post(
            f"{router.base_url}/chat/completions",
            json={"model": "gpt-4o-mini", "messages": MSG},
            headers={"authorization": f"Bearer {router.api_key}"},
        )
    assert r.status_code == 422
    found = r.json()["error"]["iron_cage"]["findings"]
    assert [f["entity"] for f in found] == ["EMAIL"] and "jane" not in r.text


def test_open_breaker_says_which_and_when(fake: FakeProvider) -> None:
    fake.fail_next(503, times=3)
    with ic.AgentRuntime(budget=1.0, failure_threshold=3, cooldown_s=30) as rt, client(fake) as c:
        for _ in range(3):
            with pytest.raises(openai.InternalServerError):
                c.chat.completions.create(model="gpt-4o-mini", max_tokens=5, messages=MSG)
        with pytest.raises(ic.CircuitOpenError) as info:
            c.chat.completions.create(model="gpt-4o-mini", max_tokens=5, messages=MSG)
        assert rt.metrics()["breakers"] == {"openai:gpt-4o-mini": "open"}
    e = info.value
    assert (e.status, e.code, e.breaker, e.state) == (503, "circuit_open", "openai:gpt-4o-mini", "open")
    assert 25 < e.retry_after_s <= 30


def test_unbounded_refusal_and_bad_settings(fake: FakeProvider) -> None:
    with ic.AgentRuntime(budget=1.0) as rt, client(fake) as c:
        with pytest.raises(ic.BudgetExceededError) as info:
            c.responses.create(model="gpt-5", input="news?", tools=[{"type": "web_search"}])
        assert info.value.code == "cost_unbounded" and info.value.status == 402
        assert info.value.limit_usd == pytest.approx(1.0) and rt.spent_usd == 0
    # One check of seconds, one error class, whichever object takes them.
    for make in (
        lambda: ic.AgentRuntime(cooldown_s=-1),
        lambda: ic.LlmRouter(provider_key="k", upstream=fake.base_url, upstream_timeout_s=0),
        lambda: ic.LlmRouter(provider_key="k", upstream=fake.base_url, cooldown_s=float("nan")),
    ):
        with pytest.raises(ic.ConfigError, match="must be a finite number of seconds"):
            make()
    with pytest.raises(ic.ConfigError, match="http:// or https://"):
        ic.LlmRouter(provider_key="k", upstream="notaurl")
