"""Library mode: AgentRuntime and protect_agent with the real SDK clients against FakeProvider."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anthropic
import openai
import pytest

import iron_cage as ic
from iron_cage.testing import FakeProvider

PII_REPLY = "Write to jane.roe@example.com or call (415) 555-2671 today."
REDACTED = "Write to [EMAIL_REDACTED] or call [PHONE_REDACTED] today."
if TYPE_CHECKING:
    from anthropic.types import MessageParam
    from openai.types.chat import ChatCompletionMessageParam

MSG: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
AMSG: list[MessageParam] = [{"role": "user", "content": "hello"}]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def usage_dict(usage: Any) -> dict[str, Any]:
    return usage.model_dump(exclude_none=True)  # type: ignore[no-any-return]


def oa(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)


def test_calls_inside_the_scope_are_priced_and_charged(fake: FakeProvider) -> None:
    with ic.AgentRuntime(budget=1.0) as rt:
        client = oa(fake)
        r = client.chat.completions.create(model="gpt-4o", messages=MSG)
        assert rt.spent_usd == pytest.approx(ic.cost_of("gpt-4o", usage_dict(r.usage)), abs=1e-9)
        assert rt.remaining_usd == pytest.approx(1.0 - rt.spent_usd)
        m = rt.metrics()
        assert m["calls"] == 1 and m["by_model"]["gpt-4o"]["calls"] == 1
        assert m["breakers"] == {"openai:gpt-4o": "closed"}
        assert m["latency_ms"]["p50"] > 0
    # Outside any runtime the same client is not governed (and not charged).
    client.chat.completions.create(model="gpt-4o", messages=MSG)
    client.close()
    assert rt.metrics()["calls"] == 1
    assert fake.request_count == 2


def test_budget_refusal_raises_before_the_call(fake: FakeProvider) -> None:
    with ic.AgentRuntime(budget=0.0001) as rt, oa(fake) as client:
        with pytest.raises(ic.BudgetExceededError, match="budget exceeded"):
            client.chat.completions.create(model="gpt-4", max_tokens=1000, messages=MSG)
        assert fake.request_count == 0
        assert rt.spent_usd == 0
        assert rt.metrics()["refused"] == 1


def test_input_is_counted_exactly_near_the_limit(fake: FakeProvider) -> None:
    # With room to spare a call reserves on its input's byte length (no tokenizing);
    # near the limit the exact count decides, so a call that fits is still admitted.
    msgs: list[ChatCompletionMessageParam] = [{"role": "user", "content": "word " * 2000}]
    tokens = ic.count_tokens("gpt-4o-mini", msgs)  # type: ignore[arg-type]
    exact_worst = ic.cost_of(
        "gpt-4o-mini", {"prompt_tokens": tokens + tokens // 50 + 16, "completion_tokens": 16}
    )
    reserved: list[float] = []
    for budget in (100.0, 2 * exact_worst):
        with ic.AgentRuntime(budget=budget) as rt, oa(fake) as client:
            rt.on_event(lambda e: reserved.append(e["reserved_usd"]) if e["type"] == "llm_call" else None)
            client.chat.completions.create(model="gpt-4o-mini", max_tokens=16, messages=msgs)
            assert 0 < rt.spent_usd <= reserved[-1]
    roomy, tight = reserved
    assert tight == pytest.approx(exact_worst, abs=2e-6)
    assert roomy > 4 * tight  # 10,000 bytes reserved for ~2,000 tokens


def test_uncapped_request_is_capped(fake: FakeProvider) -> None:
    with ic.AgentRuntime(budget=0.002), oa(fake) as client:
        client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert 100 < fake.requests()[0]["body"]["max_completion_tokens"] < 200


def test_pii_redacted_sync_async_and_streamed(fake: FakeProvider) -> None:
    for n in range(1, 5):
        fake.script_reply(PII_REPLY, at_request=n)
    with ic.AgentRuntime(budget=1.0) as rt, oa(fake) as client:
        r = client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        assert r.choices[0].message.content == REDACTED
        parts = [
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
            if c.choices
        ]
        assert "".join(parts) == REDACTED

        async def run() -> tuple[str, str]:
            async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as aclient:
                r = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MSG)
                stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
                text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
                return r.choices[0].message.content or "", text

        assert asyncio.run(run()) == (REDACTED, REDACTED)
        assert rt.metrics()["pii_findings"] == 8


def test_anthropic_sync_and_async(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY, at_request=2)
    with ic.AgentRuntime(budget=1.0) as rt:
        client = anthropic.Anthropic(base_url=fake.base_url.removesuffix("/v1"), api_key="k", max_retries=0)
        m = client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=AMSG)
        expected = ic.cost_of("claude-haiku-4-5", usage_dict(m.usage))

        async def run() -> str:
            async with anthropic.AsyncAnthropic(base_url=fake.base_url.removesuffix("/v1"), api_key="k") as a:
                async with a.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=AMSG) as s:
                    text = "".join([t async for t in s.text_stream])
                    final = await s.get_final_message()
                nonlocal expected
                expected += ic.cost_of("claude-haiku-4-5", usage_dict(final.usage))
                return text

        assert asyncio.run(run()) == REDACTED
        assert rt.spent_usd == pytest.approx(expected, abs=1e-9)
        client.close()


def test_block_mode_raises_and_returns_nothing(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY, at_request=1)
    fake.script_reply(PII_REPLY, at_request=2)
    with ic.AgentRuntime(budget=1.0, safety_mode="block") as rt, oa(fake) as client:
        with pytest.raises(ic.PiiBlockedError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        received: list[str] = []
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
        with pytest.raises(ic.PiiBlockedError):
            received.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert "jane.roe" not in "".join(received)
        assert rt.spent_usd > 0


def test_breaker_opens_after_five_failures(fake: FakeProvider) -> None:
    fake.fail_next(503, times=10)
    with ic.AgentRuntime(budget=1.0) as rt, oa(fake) as client:
        for _ in range(5):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        with pytest.raises(ic.CircuitOpenError) as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        assert info.value.retry_after_s > 0
        assert fake.request_count == 5
        assert rt.metrics()["breakers"]["openai:gpt-4o-mini"] == "open"


def test_budget_holds_for_32_concurrent_async_tasks(fake: FakeProvider) -> None:
    async def run() -> tuple[list[float], list[BaseException], float]:
        costs: list[float] = []
        errors: list[BaseException] = []
        async with ic.AgentRuntime(budget=0.05) as rt:
            async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as client:

                async def task() -> None:
                    for _ in range(10):
                        try:
                            r = await client.chat.completions.create(
                                model="gpt-4", max_tokens=30, messages=MSG
                            )
                            costs.append(ic.cost_of("gpt-4", usage_dict(r.usage)))
                        except ic.BudgetExceededError as e:
                            errors.append(e)

                await asyncio.gather(*(task() for _ in range(32)))
            return costs, errors, rt.spent_usd

    costs, errors, spent = asyncio.run(run())
    assert costs and errors
    assert len(costs) + len(errors) == 320
    assert spent <= 0.05
    assert spent == pytest.approx(sum(costs), abs=1e-6)
    assert fake.request_count == len(costs)


def test_nested_and_concurrent_agents_keep_their_own_budgets(fake: FakeProvider) -> None:
    @ic.protect_agent(budget=0.5)
    def inner() -> float:
        with oa(fake) as client:
            client.chat.completions.create(model="gpt-4o", messages=MSG)
        rt = ic.library.current_runtime()
        assert rt is not None
        return rt.spent_usd

    @ic.protect_agent(budget=1.0)
    def outer() -> tuple[float, float, float]:
        with oa(fake) as client:
            client.chat.completions.create(model="gpt-4o", messages=MSG)
            client.chat.completions.create(model="gpt-4o", messages=MSG)
        rt = ic.library.current_runtime()
        assert rt is not None
        before = rt.spent_usd
        spent_inner = inner()
        return before, spent_inner, rt.spent_usd

    before, spent_inner, after = outer()
    assert spent_inner > 0
    assert after == before, "the inner agent's calls are charged to the inner budget only"
    assert before == pytest.approx(2 * spent_inner, rel=0.2)

    results: dict[int, float] = {}

    def agent(i: int) -> None:
        with ic.AgentRuntime(budget=1.0) as rt, oa(fake) as client:
            for _ in range(i + 1):
                client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
            results[i] = rt.metrics()["calls"]

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: 1, 1: 2, 2: 3, 3: 4}


def test_async_protect_agent(fake: FakeProvider) -> None:
    @ic.protect_agent(budget=0.25, safety_mode="warn")
    async def agent() -> str:
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as client:
            r = await client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
            return r.choices[0].message.content or ""

    fake.script_reply(PII_REPLY)
    assert asyncio.run(agent()) == PII_REPLY, "warn mode reports but leaves the text"


def test_exception_inside_the_agent_releases_reservations(fake: FakeProvider) -> None:
    rt = ic.AgentRuntime(budget=1.0)
    reserved: list[float] = []

    def agent() -> None:
        with rt, oa(fake) as client:
            stream = client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True)
            next(iter(stream))
            reserved.append(rt.metrics()["reserved_usd"])
            raise RuntimeError("agent failed")

    with pytest.raises(RuntimeError, match="agent failed"):
        agent()
    assert reserved[0] > 0
    m = rt.metrics()
    assert m["reserved_usd"] == 0
    assert m["calls"] == 1, "the abandoned stream is charged for what it produced"


def test_instrument_binds_a_client_without_a_scope(fake: FakeProvider) -> None:
    rt = ic.AgentRuntime(budget=1.0, auto_instrument=False)
    with rt.instrument(oa(fake)) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert rt.metrics()["calls"] == 1
    with pytest.raises(TypeError, match="cannot instrument"):
        rt.instrument(object())


def test_bad_settings_are_clear() -> None:
    with pytest.raises(ic.ConfigError, match="safety_mode"):
        ic.AgentRuntime(safety_mode="shout")
    with pytest.raises(ic.ControlPanelError, match="cannot reach the Control Panel"):
        ic.AgentRuntime(control_panel="http://127.0.0.1:1", ic_token="ic_t", outbox_path=":memory:")
