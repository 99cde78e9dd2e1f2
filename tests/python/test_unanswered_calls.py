"""A call whose transport failed: charged its worst case when the request had gone out (the
provider may bill it), nothing when it never left (docs/decisions/0013)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

import iron_cage as ic
from iron_cage.testing import FakeProvider

MESSAGES = [{"role": "user", "content": "how far is the moon?"}]


def worst_case(model: str, max_tokens: int) -> float:
    """What a call to `model` with MESSAGES and `max_tokens` costs at most by its counted
    tokens (the reservation adds the request's framing on top)."""
    prompt = ic.count_tokens(model, MESSAGES)
    return ic.cost_of(model, {"prompt_tokens": prompt, "completion_tokens": max_tokens})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as f:
        yield f


_clients: list[Any] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def kept(client: Any) -> Any:
    """`client`, closed after the test."""
    _clients.append(client)
    return client


def events_of(rt: ic.AgentRuntime) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    rt.on_event(seen.append)
    return seen


def test_a_read_timeout_is_charged_the_worst_case_and_reported_as_failed(fake: FakeProvider) -> None:
    fake.set_latency(1.0)
    with ic.AgentRuntime(budget=1.0) as rt:
        seen = events_of(rt)
        client = rt.instrument(
            kept(openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=0.2))
        )
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=300)
        assert fake.request_count == 1  # the provider got it
        spent = rt.spent_usd
        m = rt.metrics()
        assert m["failed"] == 1 and m["calls"] == 1
    (call,) = [e for e in seen if e["type"] == "llm_call"]
    assert spent == call["cost_usd"] == call["reserved_usd"] >= worst_case("gpt-4o-mini", 300)
    assert call["failed"] == "failed_timeout" and call["status"] == 0
    assert call["exact_usage"] is False and call["output_tokens"] == 300
    assert "ReadTimeout" in call["reason"]
    (error,) = [e for e in seen if e["type"] == "llm_error"]
    assert error["charged_micros"] == call["cost_micros"] > 0


def test_a_connection_refused_is_not_charged(fake: FakeProvider) -> None:
    with ic.AgentRuntime(budget=1.0) as rt:
        seen = events_of(rt)
        url = f"http://127.0.0.1:{closed_port()}/v1"
        client = rt.instrument(kept(openai.OpenAI(base_url=url, api_key="k", max_retries=0, timeout=2)))
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=300)
        assert rt.spent_usd == 0 and rt.remaining_usd == 1.0
        assert rt.metrics()["failed"] == 1
    assert not [e for e in seen if e["type"] == "llm_call"]
    (error,) = [e for e in seen if e["type"] == "llm_error"]
    assert "charged_micros" not in error and error["error"] == "ConnectError"


def test_a_reply_broken_off_after_its_status_is_charged(fake: FakeProvider) -> None:
    fake.disconnect_next(after_chunks=0)
    with ic.AgentRuntime(budget=1.0) as rt:
        client = rt.instrument(
            kept(anthropic.Anthropic(base_url=fake.base_url.removesuffix("/v1"), api_key="k", max_retries=0))
        )
        with pytest.raises(anthropic.APIConnectionError):
            client.messages.create(model="claude-haiku-4-5", messages=MESSAGES, max_tokens=64)
        assert rt.spent_usd > 0
        # The budget goes on for the next call, which is answered and charged exactly.
        before = rt.spent_usd
        client.messages.create(model="claude-haiku-4-5", messages=MESSAGES, max_tokens=64)
        assert rt.spent_usd > before
        assert rt.metrics()["failed"] == 1


def test_an_async_call_cancelled_in_flight_is_charged(fake: FakeProvider) -> None:
    fake.set_latency(2.0)

    async def run(rt: ic.AgentRuntime) -> None:
        client = rt.instrument(openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0))
        task = asyncio.ensure_future(
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)  # type: ignore[arg-type]
        )
        while fake.request_count == 0:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.close()

    with ic.AgentRuntime(budget=1.0) as rt:
        seen = events_of(rt)
        asyncio.run(run(rt))
        (call,) = [e for e in seen if e["type"] == "llm_call"]
        assert rt.spent_usd == call["reserved_usd"] >= worst_case("gpt-4o-mini", 100)
        assert call["failed"] == "failed_connect" and "CancelledError" in call["reason"]


def test_timeouts_run_the_budget_out_instead_of_spending_unseen(fake: FakeProvider) -> None:
    # Each timed-out call takes its worst case out of the budget: after enough of them the
    # next call is refused before it is sent, however many the provider may have billed.
    fake.set_latency(1.0)
    one = worst_case("gpt-4o-mini", 4000)
    with ic.AgentRuntime(budget=one * 2.5) as rt:
        seen = events_of(rt)
        client = rt.instrument(
            kept(openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=0.1))
        )
        for _ in range(2):
            with pytest.raises(openai.APITimeoutError):
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=4000)
        with pytest.raises(ic.BudgetExceededError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=4000)
        assert fake.request_count == 2
        charged = [e["cost_usd"] for e in seen if e["type"] == "llm_call"]
        assert len(charged) == 2 and rt.spent_usd == pytest.approx(sum(charged), abs=1e-9)
        assert min(charged) >= one


def test_router_charges_an_upstream_timeout_and_not_an_unreachable_upstream(fake: FakeProvider) -> None:
    fake.set_latency(1.5)
    with ic.LlmRouter(upstream=fake.base_url, provider_key="p", budget=1.0, upstream_timeout_s=0.3) as router:
        r = httpx.post(
            router.base_url + "/chat/completions",
            headers={"Authorization": f"Bearer {router.api_key}"},
            json={"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 200},
            timeout=10,
        )
        assert r.status_code >= 500
        message = r.json()["error"]["message"]
        assert "did not answer" in message and "was charged" in message
        assert worst_case("gpt-4o-mini", 200) <= router.total_spent() < 2 * worst_case("gpt-4o-mini", 200)
    unreachable = f"http://127.0.0.1:{closed_port()}/v1"
    with ic.LlmRouter(upstream=unreachable, provider_key="p", budget=1.0, upstream_timeout_s=5) as router:
        r = httpx.post(
            router.base_url + "/chat/completions",
            headers={"Authorization": f"Bearer {router.api_key}"},
            json={"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 200},
            timeout=10,
        )
        assert r.status_code >= 500 and "nothing was charged" in r.json()["error"]["message"]
        assert router.total_spent() == 0
