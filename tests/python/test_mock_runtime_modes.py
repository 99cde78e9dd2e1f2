"""MockRuntime's documented behaviour, shared by its two modes: on the Rust core, and the
pure-Python mode used when ``iron_cage._core`` cannot be imported.

In the dev venv every MockRuntime test runs against both (``mode``); the helper and
fixture tests run in whatever mode the process is in.
``test_testing_without_core.py`` runs this whole module again in a process whose copy of
the package has no compiled core, where only the pure mode exists.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anthropic
import openai
import pytest

import iron_cage as ic
import iron_cage.testing
from iron_cage.testing import (
    PURE,
    MockRuntime,
    assert_budget_exceeded,
    assert_pii_detected,
    media,
    pii_samples,
    provider_response,
)
from iron_cage.testing._pure_mock import PureMockRuntime

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

# Nothing listens here: a call that reached the network would fail to connect.
NOWHERE = "http://127.0.0.1:9/v1"
MSG: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
# USD per 1M tokens (= micro-USD per token), from the providers' pricing pages.
PRICES = {"gpt-4o-mini": ("0.15", "0.6"), "gpt-4o": ("2.5", "10"), "claude-haiku-4-5": ("1", "5")}
METRIC_KEYS = {
    "breakers",
    "by_model",
    "calls",
    "failed",
    "input_tokens",
    "latency_ms",
    "limit_usd",
    "output_tokens",
    "pii_findings",
    "refused",
    "reserved_usd",
    "spent_usd",
    "tools",
}
ENTITIES = ["EMAIL", "PHONE", "US_SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "MAC_ADDRESS", "API_KEY"]


@pytest.fixture(params=["core", "pure"])
def mode(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The MockRuntime class of each mode."""
    if request.param == "core":
        if PURE:
            pytest.skip("this process has no compiled core")
        yield MockRuntime
    else:
        yield PureMockRuntime


def cost(model: str, input_tokens: int, output_tokens: int) -> float:
    """What a call costs at the list prices: integer micro-USD, rounded up once."""
    p_in, p_out = (Decimal(p) for p in PRICES[model])
    return math.ceil(input_tokens * p_in + output_tokens * p_out) / 1_000_000


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(base_url=NOWHERE, api_key="k", max_retries=0)


def test_answers_openai_in_process_redacts_and_charges_the_usage(mode: Any) -> None:
    with mode(budget=1.0, replies=["Mail jane.roe@example.com"]) as rt, openai_client() as client:
        r = client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        assert r.choices[0].message.content == "Mail [EMAIL_REDACTED]"
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed.startswith('Reply 2 from gpt-4o-mini: you wrote 1 words, starting with "hello".')
        usages = [r.usage] + [c.usage for c in chunks if c.usage is not None]
        assert len(usages) == 2
        expected = sum(cost("gpt-4o-mini", u.prompt_tokens, u.completion_tokens) for u in usages if u)
        assert rt.spent_usd == pytest.approx(expected, abs=1e-12)
        assert rt.remaining_usd == pytest.approx(1.0 - expected, abs=1e-12)
    assert [c["n"] for c in rt.calls] == [1, 2]
    assert [c["request"]["model"] for c in rt.calls] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert rt.calls[1]["request"]["stream_options"] == {"include_usage": True}
    metrics = rt.metrics()
    assert set(metrics) == METRIC_KEYS
    assert metrics["calls"] == 2 and metrics["refused"] == 0 and metrics["pii_findings"] == 1
    assert metrics["by_model"]["gpt-4o-mini"]["calls"] == 2
    assert metrics["breakers"] == {"openai:gpt-4o-mini": "closed"}
    assert metrics["limit_usd"] == 1.0 and metrics["reserved_usd"] == 0.0


def test_a_call_that_cannot_fit_is_refused_before_it_is_answered(mode: Any) -> None:
    async def run() -> None:
        async with mode(budget=0.0001) as rt:
            client = anthropic.AsyncAnthropic(base_url=NOWHERE[:-3], api_key="k", max_retries=0)
            with assert_budget_exceeded() as info:
                await client.messages.create(
                    model="claude-haiku-4-5", max_tokens=4000, messages=[{"role": "user", "content": "x"}]
                )
            assert "budget exceeded" in str(info.value)
            assert info.value.status == 402 and info.value.code == "budget_exceeded"
            assert info.value.limit_usd == pytest.approx(0.0001)
            assert info.value.requested_usd > 0.02  # 4000 output tokens at $5/M
            assert rt.calls == [] and rt.spent_usd == 0.0
            assert rt.metrics()["refused"] == 1
            await client.close()

    asyncio.run(run())


def test_a_call_without_a_cap_gets_the_most_the_budget_pays_for(mode: Any) -> None:
    with mode(budget=0.00002) as rt, openai_client() as client:
        r = client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        cap = rt.calls[0]["request"]["max_completion_tokens"]
        assert 0 < cap < 34  # $0.00002 pays for at most 33 output tokens at $0.60/M
        assert r.usage is not None and r.usage.completion_tokens <= cap
        assert r.choices[0].finish_reason == "length"
        assert rt.spent_usd <= 0.00002
        with assert_budget_exceeded():
            client.chat.completions.create(model="gpt-4o-mini", messages=MSG, max_tokens=1000)
    assert len(rt.calls) == 1


def test_requests_leave_with_placeholders_and_credentials_are_refused(mode: Any) -> None:
    with mode(budget=1.0) as rt, openai_client() as client:
        ask: list[ChatCompletionMessageParam] = [{"role": "user", "content": "write to bob.ray@example.org"}]
        r = client.chat.completions.create(model="gpt-4o-mini", messages=ask)
        assert rt.calls[0]["request"]["messages"][0]["content"] == "write to <EMAIL_1>"
        # The reply quotes the prompt as the provider saw it; the agent reads its own value.
        assert r.choices[0].message.content is not None
        assert 'starting with "write to bob.ray@example.org"' in r.choices[0].message.content
        key = pii_samples("API_KEY", n=1)[0]
        with pytest.raises(ic.PiiBlockedError, match="request contains API_KEY") as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": key}])
        assert info.value.code == "pii_blocked" and [f.entity for f in info.value.findings] == ["API_KEY"]
    assert len(rt.calls) == 1
    assert rt.metrics()["refused"] == 1


def test_egress_off_and_warn_mode_leave_the_texts_as_they_are(mode: Any) -> None:
    email = pii_samples("EMAIL", n=1)[0]
    with mode(budget=1.0, safety_mode="warn", egress="off", replies=[email]) as rt, openai_client() as client:
        ask: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"to {email}"}]
        r = client.chat.completions.create(model="gpt-4o-mini", messages=ask)
        assert r.choices[0].message.content == email
    assert rt.calls[0]["request"]["messages"][0]["content"] == f"to {email}"
    assert rt.metrics()["pii_findings"] == 1


def test_the_pure_mode_is_exact_and_says_what_it_does_not_do() -> None:
    with PureMockRuntime(budget="0.5", replies=["ok"]) as rt, openai_client() as client:
        r = client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert r.usage is not None
    assert (
        rt.spent == Decimal(math.ceil(r.usage.prompt_tokens * 2.5 + r.usage.completion_tokens * 10)) / 10**6
    )
    assert rt.spent_usd == float(rt.spent)
    with pytest.raises(ic.ConfigError, match="does not support allowed_tools"):
        PureMockRuntime(allowed_tools=["search"])
    with (
        pytest.raises(ic.ConfigError, match="unknown model 'gpt-9'"),
        PureMockRuntime(),
        openai_client() as client,
    ):
        client.chat.completions.create(model="gpt-9", messages=MSG)


def test_block_mode_refuses_a_reply_with_pii_and_still_charges_it(mode: Any) -> None:
    card = pii_samples("CREDIT_CARD", n=1)[0]
    with mode(budget=1.0, safety_mode="block", replies=[f"card {card}"]) as rt, openai_client() as client:
        with pytest.raises(ic.PiiBlockedError, match="CREDIT_CARD") as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        assert [f.entity for f in info.value.findings] == ["CREDIT_CARD"]
        assert rt.spent_usd > 0  # the provider billed it
        assert rt.metrics()["calls"] == 1 and rt.metrics()["pii_findings"] == 1


def test_anthropic_responses_and_embeddings_sync_and_streamed(mode: Any) -> None:
    with (
        mode(budget=1.0) as rt,
        anthropic.Anthropic(base_url=NOWHERE.removesuffix("/v1"), api_key="k", max_retries=0) as claude,
        openai_client() as client,
    ):
        hi: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]
        m = claude.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=hi)
        first = m.content[0]
        assert first.type == "text" and first.text.startswith("Reply 1 from claude-haiku-4-5")
        spent = cost("claude-haiku-4-5", m.usage.input_tokens, m.usage.output_tokens)
        assert rt.spent_usd == pytest.approx(spent, abs=1e-12)
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=200, messages=hi) as stream:
            assert stream.get_final_text().startswith("Reply 2 from claude-haiku-4-5")
        resp = client.responses.create(model="gpt-4o-mini", input="hello there")
        assert resp.output_text.startswith("Reply 3 from gpt-4o-mini: you wrote 2 words")
        emb = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
        assert len(emb.data) == 2 and len(emb.data[0].embedding) == 8
    assert [c["path"] for c in rt.calls] == [
        "/v1/messages",
        "/v1/messages",
        "/v1/responses",
        "/v1/embeddings",
    ]
    assert rt.metrics()["calls"] == 4


def test_async_openai_and_the_scope_ends_interception(mode: Any) -> None:
    async def run() -> None:
        async with mode(budget=1.0, replies=["first"]) as rt:
            client = openai.AsyncOpenAI(base_url=NOWHERE, api_key="k", max_retries=0)
            r = await client.chat.completions.create(model="gpt-4o", messages=MSG)
            assert r.choices[0].message.content == "first"
        assert len(rt.calls) == 1
        with pytest.raises(openai.APIConnectionError):  # outside the scope: the real network
            await client.chat.completions.create(model="gpt-4o", messages=MSG)
        await client.close()

    asyncio.run(run())


# -- helpers and fixtures, in this process's mode --------------------------------------
@pytest.mark.parametrize("entity", ENTITIES)
def test_pii_samples_are_detected_and_deterministic(entity: str) -> None:
    samples = pii_samples(entity, n=20, seed=3)
    assert samples == pii_samples(entity, n=20, seed=3)
    assert len(set(samples)) > 15
    for value in samples:
        found = assert_pii_detected(f"value: {value} end", entity)
        assert (found[0].start, found[0].end) == (7, 7 + len(value))


def test_assertion_helpers_fail_with_what_they_saw() -> None:
    with pytest.raises(AssertionError, match=r"expected US_SSN to be detected; found \['EMAIL'\]"):
        assert_pii_detected("write to a@b.co", "US_SSN")
    with pytest.raises(AssertionError, match="within its budget"), assert_budget_exceeded():
        pass
    with pytest.raises(ValueError, match="unknown entity"):
        pii_samples("PASSPORT")


def test_provider_response_has_fakeproviders_shapes() -> None:
    chat = provider_response("hi there")
    assert chat["choices"][0]["message"]["content"] == "hi there"
    assert chat["usage"]["completion_tokens"] == 2
    msg = provider_response("hey", model="claude-haiku-4-5", api="messages")
    assert msg["content"][0]["text"] == "hey" and msg["usage"]["output_tokens"] > 0
    sse = provider_response("streamed", stream=True)
    events = [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: {")]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]) == "streamed"
    assert events[-1]["usage"]["completion_tokens"] > 0


def test_media_generators() -> None:
    assert media.png(3, 2).startswith(b"\x89PNG\r\n\x1a\n")
    assert media.pdf(2).startswith(b"%PDF-") and media.wav(0.5).startswith(b"RIFF")
    assert media.openai_image(media.png(1, 1))["type"] == "image_url"


def test_mock_runtime_fixture(mock_runtime: Any) -> None:
    with openai_client() as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert len(mock_runtime.calls) == 1
    assert mock_runtime.metrics()["limit_usd"] == 10.0


# -- without the compiled core -------------------------------------------------------------
needs_no_core = pytest.mark.skipif(not PURE, reason="runs where iron_cage._core cannot be imported")


@needs_no_core
def test_production_names_raise_instead_of_running_ungoverned(request: pytest.FixtureRequest) -> None:
    assert importlib.util.find_spec("iron_cage._core") is None
    for name in ("AgentRuntime", "LlmRouter", "Budget", "protect_agent", "PiiScanner", "library"):
        with pytest.raises(ImportError, match=rf"iron_cage\.{name} needs iron-cage's compiled Rust core"):
            getattr(ic, name)
    with pytest.raises(ImportError, match="compiled Rust core"):
        from iron_cage.library import AgentRuntime  # noqa: F401
    with pytest.raises(ImportError, match="compiled Rust core"):
        from iron_cage.testing import FakeProvider  # noqa: F401
    with pytest.raises(ImportError, match="compiled Rust core"):
        request.getfixturevalue("governed_runtime")
    with pytest.raises(AttributeError):
        getattr(ic, "no_such_name")  # noqa: B009
    assert vars(iron_cage.testing)["MockRuntime"] is PureMockRuntime
    assert issubclass(ic.BudgetExceededError, ic.IronCageError)


def test_the_pure_price_subset_is_the_core_table() -> None:
    table = Path(__file__).parents[2] / "crates/iron_cost/data/prices.json"
    core = json.loads(table.read_text())
    from iron_cage.testing._pure_mock import load_prices

    pure = load_prices()
    assert pure["version"] == core["version"]
    for model, entry in pure["models"].items():
        assert entry == {k: core["models"][model][k] for k in entry}, model
    for model, (p_in, p_out) in PRICES.items():
        entry = pure["models"][model]
        assert Decimal(str(entry["input"])) == Decimal(p_in), model
        assert Decimal(str(entry["output"])) == Decimal(p_out), model
