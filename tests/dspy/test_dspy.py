"""DSPy governed by iron-cage, against FakeProvider. Runs in its own venv: `make test-dspy`.

DSPy's default engine sends requests with its own socket-level HTTP client (the vendored
``lm15``), which library mode neither sees nor refuses, so DSPy is governed in router
mode: ``dspy.LM(..., api_base=router.base_url, api_key=router.api_key)``. With
``engine="litellm"`` DSPy calls LiteLLM, which calls the openai client on httpx, and a
plain ``AgentRuntime`` scope governs it too."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# LiteLLM's price map from the package, not fetched; DSPy's cache in a scratch folder.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="dspy-cache-"))

import dspy
import openai
import pytest

import iron_cage as ic
from iron_cage.testing import FakeProvider

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "dspy"


def reply(**fields: str) -> str:
    """A reply in the format of DSPy's ChatAdapter."""
    body = "".join(f"[[ ## {name} ## ]]\n{value}\n\n" for name, value in fields.items())
    return body + "[[ ## completed ## ]]"


PII = "Write to jane.roe@example.com today."
REDACTED = "Write to [EMAIL_REDACTED] today."


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The framework reaches nothing but loopback: no price map, tokenizer or telemetry fetch."""
    connect, resolve = socket.socket.connect, socket.getaddrinfo

    def loopback(host: Any) -> bool:
        host = host.decode() if isinstance(host, bytes) else host
        try:
            return host in (None, "localhost") or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address[0]):
            raise OSError(f"a framework test reached for the network: {address}")
        return connect(self, address)

    def guarded_resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"a framework test looked up {host!r}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_resolve)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.fixture
def router(fake: FakeProvider) -> Iterator[ic.LlmRouter]:
    with ic.LlmRouter(budget=1.0, upstream=fake.base_url, provider_key="k") as r:
        yield r


def routed_lm(router: ic.LlmRouter, model: str = "openai/gpt-4o-mini", **kw: Any) -> dspy.LM:
    return dspy.LM(model, api_base=router.base_url, api_key=router.api_key, cache=False, num_retries=0, **kw)


def streamed(program: dspy.Module, **inputs: str) -> tuple[list[str], dspy.Prediction]:
    listener = dspy.streaming.StreamListener(signature_field_name="answer")
    stream = dspy.streamify(program, stream_listeners=[listener])

    async def run() -> tuple[list[str], dspy.Prediction]:
        chunks: list[str] = []
        final = None
        async for item in stream(**inputs):
            if isinstance(item, dspy.streaming.StreamResponse):
                chunks.append(item.chunk)
            elif isinstance(item, dspy.Prediction):
                final = item
        assert final is not None
        return chunks, final

    return asyncio.run(run())


def run_until_refused(program: dspy.Module) -> tuple[int, Exception]:
    """Score leads until the program raises; the calls that succeeded and the error."""
    for n in range(100):
        try:
            program(question=f"Score lead {n}")
        except Exception as exc:
            return n, exc
    raise AssertionError("the budget never stopped the program")


def test_environment_is_the_httpx_one() -> None:
    assert openai.__version__.startswith("2.")


def test_router_mode_predict_and_chain_of_thought(fake: FakeProvider, router: ic.LlmRouter) -> None:
    fake.script_reply(reply(answer="Bill Lumbergh"), at_request=1)
    fake.script_reply(reply(reasoning="The CTO reads mail.", answer=PII), at_request=2)
    with dspy.context(lm=routed_lm(router)):
        who = dspy.Predict("question -> answer")(question="Who is Initech's CTO?")
        how = dspy.ChainOfThought("question -> answer")(question="How do I reach them?")
    assert who.answer == "Bill Lumbergh"
    assert how.answer == REDACTED and how.reasoning == "The CTO reads mail."
    m = router.metrics()
    assert m["calls"] == fake.request_count == 2
    assert m["pii_findings"] == 1
    assert 0 < router.total_spent() <= 1.0


def test_router_mode_async_and_streamed(fake: FakeProvider, router: ic.LlmRouter) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(reply(answer=PII), at_request=1)
    fake.script_reply(reply(answer=f"{filler} Mail jane.roe@example.com now. {filler}"), at_request=2)
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=routed_lm(router)):
        first = asyncio.run(qa.acall(question="How do I reach them?"))
        chunks, final = streamed(qa, question="Draft the outreach")
    assert first.answer == REDACTED
    assert fake.requests()[1]["body"]["stream"] is True
    assert len(chunks) > 1
    assert "Mail [EMAIL_REDACTED] now." in final.answer and "@example.com" not in "".join(chunks)
    assert router.metrics()["calls"] == fake.request_count == 2


def test_router_mode_stops_a_program_before_overspending(fake: FakeProvider) -> None:
    for n in range(1, 101):
        fake.script_reply(reply(answer=f"Lead {n} scored."), at_request=n)
    budget = 0.002
    qa = dspy.Predict("question -> answer")
    with ic.LlmRouter(budget=budget, upstream=fake.base_url, provider_key="k") as router:
        with dspy.context(lm=routed_lm(router, "openai/gpt-4o", max_tokens=100)):
            done, error = run_until_refused(qa)
        assert isinstance(error, dspy.utils.exceptions.LMBillingError)
        assert "budget exceeded" in str(error)
        m = router.metrics()
        spent = router.total_spent()
    assert done >= 1
    assert 0 < spent <= budget
    assert m["calls"] == fake.request_count == done
    assert m["refused"] == 1


def test_litellm_engine_is_governed_by_a_plain_runtime_scope(fake: FakeProvider) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(reply(answer=PII), at_request=1)
    fake.script_reply(reply(answer=PII), at_request=2)
    fake.script_reply(reply(answer=f"{filler} Mail jane.roe@example.com now."), at_request=3)
    lm = dspy.LM(
        "openai/gpt-4o-mini",
        api_base=fake.base_url,
        api_key="k",
        cache=False,
        num_retries=0,
        engine="litellm",
    )
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=lm), ic.AgentRuntime(budget=1.0) as rt:
        sync = qa(question="How do I reach them?")
        not_sync = asyncio.run(qa.acall(question="And by mail?"))
        _, final = streamed(qa, question="Draft the outreach")
        m = rt.metrics()
    assert sync.answer == not_sync.answer == REDACTED
    assert final.answer.endswith("Mail [EMAIL_REDACTED] now.")
    assert m["calls"] == fake.request_count == 3
    assert m["pii_findings"] == 3
    assert rt.spent_usd > 0


def test_litellm_engine_stops_before_overspending(fake: FakeProvider) -> None:
    # LiteLLM maps the refusal to its InternalServerError and DSPy to LMServerError;
    # our BudgetExceededError is in the chain, and nothing was sent.
    for n in range(1, 101):
        fake.script_reply(reply(answer=f"Lead {n} scored."), at_request=n)
    budget = 0.002
    lm = dspy.LM(
        "openai/gpt-4o",
        api_base=fake.base_url,
        api_key="k",
        cache=False,
        num_retries=0,
        max_tokens=100,
        engine="litellm",
    )
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=lm), ic.AgentRuntime(budget=budget) as rt:
        done, error = run_until_refused(qa)
        m = rt.metrics()
    assert isinstance(error, dspy.utils.exceptions.LMServerError)
    chain: list[BaseException] = []
    exc: BaseException | None = error
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(e, ic.BudgetExceededError) for e in chain)
    assert done >= 1
    assert 0 < rt.spent_usd <= budget
    assert m["calls"] == fake.request_count == done


@pytest.mark.xfail(
    strict=True,
    reason="DSPy's default engine (vendored lm15) writes HTTP to its own sockets: library mode refuses it "
    "for provider hosts but cannot meter it (to a base URL like this one it goes unmetered); use router mode",
)
def test_default_engine_inside_a_runtime_scope_is_governed(fake: FakeProvider) -> None:
    fake.script_reply(reply(answer="Bill Lumbergh"))
    lm = dspy.LM("openai/gpt-4o-mini", api_base=fake.base_url, api_key="k", cache=False, num_retries=0)
    with dspy.context(lm=lm), ic.AgentRuntime(budget=1.0) as rt:
        dspy.Predict("question -> answer")(question="Who is Initech's CTO?")
        assert fake.request_count == 1
        assert rt.metrics()["calls"] == 1


def test_default_engine_to_a_provider_is_refused_unsent() -> None:
    lm = dspy.LM("openai/gpt-4o-mini", api_key="sk-none", cache=False, num_retries=0)
    with dspy.context(lm=lm), ic.AgentRuntime(budget=1.0) as rt, pytest.raises(Exception) as info:  # noqa: PT011
        dspy.Predict("question -> answer")(question="hi")
    exc: BaseException | None = info.value
    while exc is not None and not isinstance(exc, ic.UngovernedRequestError):
        exc = exc.__cause__ or exc.__context__
    assert isinstance(exc, ic.UngovernedRequestError), info.value
    assert "DSPy" in str(exc) and "engine='litellm'" in str(exc)
    assert rt.metrics()["calls"] == 0


def test_litellm_async_call_to_a_provider_host_is_governed_not_refused() -> None:
    import aiohttp  # noqa: F401 - imported before the runtime, as LiteLLM does on first use

    lm = dspy.LM("openai/gpt-4o-mini", api_key="sk-none", cache=False, num_retries=0, engine="litellm")
    with dspy.context(lm=lm), ic.AgentRuntime(budget=1.0) as rt, pytest.raises(Exception) as info:  # noqa: PT011
        # Nothing leaves this machine: the refusal comes before any connection, and
        # without it the connection is refused by loopback_only.
        asyncio.run(dspy.Predict("question -> answer").acall(question="hi"))
    exc: BaseException | None = info.value
    while exc is not None:
        assert not isinstance(exc, ic.UngovernedRequestError), exc
        exc = exc.__cause__ or exc.__context__
    # Admitted and charged by the httpx layer, sent by aiohttp (then failed: loopback_only).
    assert rt.metrics()["failed"] == 1


def test_litellm_async_without_its_aiohttp_transport_is_governed(monkeypatch: pytest.MonkeyPatch) -> None:
    # LiteLLM's async calls on httpx's own transport.
    import aiohttp  # noqa: F401

    monkeypatch.setenv("DISABLE_AIOHTTP_TRANSPORT", "True")
    lm = dspy.LM("openai/gpt-4o-mini", api_key="sk-httpx-only", cache=False, num_retries=0, engine="litellm")
    with dspy.context(lm=lm), ic.AgentRuntime(budget=1.0) as rt, pytest.raises(Exception) as info:  # noqa: PT011
        asyncio.run(dspy.Predict("question -> answer").acall(question="hi"))
    exc: BaseException | None = info.value
    while exc is not None:
        assert not isinstance(exc, ic.UngovernedRequestError), exc
        exc = exc.__cause__ or exc.__context__
    # Metered and sent (then failed: loopback_only refuses to look the host up).
    assert rt.metrics()["failed"] == 1


def test_dspy_examples_run() -> None:
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert scripts
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    for script in scripts:
        out = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env, check=False
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "[EMAIL_REDACTED]" in out.stdout and "@example.com" not in out.stdout
