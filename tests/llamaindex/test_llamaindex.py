"""LlamaIndex (llama-index-core with its OpenAI LLM and embeddings, openai 2.x on httpx)
governed by a plain ``AgentRuntime`` scope (no integration code), against FakeProvider.
Runs in its own venv: `make test-llamaindex`."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, ReActAgent
from llama_index.core.llms import ChatMessage
from llama_index.embeddings.openai import OpenAIEmbedding
from llama_index.llms.openai import OpenAI

import iron_cage as ic
from iron_cage.testing import FakeProvider

PII = "Write to jane.roe@example.com today."
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "llamaindex"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The framework reaches nothing but FakeProvider: LlamaIndex's tokenizer and NLTK data
    ship in the package, and nothing is fetched."""
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


def llm_for(fake: FakeProvider, model: str = "gpt-4o-mini", **kw: Any) -> OpenAI:
    return OpenAI(model=model, api_base=fake.base_url, api_key="k", max_retries=0, **kw)


def test_environment_is_the_httpx_one() -> None:
    assert openai.__version__.startswith("2.")
    assert httpx.__version__


def test_llm_made_before_the_scope_is_charged_and_redacted(fake: FakeProvider) -> None:
    fake.script_reply(PII, at_request=2)
    llm = llm_for(fake)
    with ic.AgentRuntime(budget=1.0) as rt:
        first = llm.complete("Who runs Initech?").text
        second = llm.chat([ChatMessage(role="user", content="How do I reach them?")]).message.content
        m = rt.metrics()
    assert first.startswith("Reply 1 from gpt-4o-mini")
    assert second == "Write to [EMAIL_REDACTED] today."
    assert m["calls"] == fake.request_count == 2
    assert m["pii_findings"] == 1
    assert 0 < rt.spent_usd <= 1.0


def test_streams_are_redacted_across_chunks(fake: FakeProvider) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(f"{filler} Mail jane.roe@example.com now. {filler}", at_request=1)
    fake.script_reply(PII, at_request=2)
    llm = llm_for(fake)

    async def astream() -> str:
        pieces = [r.delta or "" async for r in await llm.astream_complete("again")]
        return "".join(pieces)

    with ic.AgentRuntime(budget=1.0) as rt:
        deltas = [r.delta or "" for r in llm.stream_chat([ChatMessage(role="user", content="Draft it")])]
        second = asyncio.run(astream())
        m = rt.metrics()
    text = "".join(deltas)
    assert all(r["body"]["stream"] is True for r in fake.requests())
    assert len([d for d in deltas if d]) > 1, "streamed, not one reply"
    assert "Mail [EMAIL_REDACTED] now." in text and "@example.com" not in text
    assert second == "Write to [EMAIL_REDACTED] today."
    assert m["calls"] == fake.request_count == 2 and m["output_tokens"] > 0


def test_rag_query_engine_charges_embeddings_and_the_answer(fake: FakeProvider) -> None:
    llm = llm_for(fake)
    embed = OpenAIEmbedding(
        model="text-embedding-3-small", api_base=fake.base_url, api_key="k", max_retries=0
    )
    docs = [
        Document(text="Initech sells staplers. Its CTO is Bill Lumbergh."),
        Document(text="Globex builds lasers and hires engineers."),
    ]
    # Request 1 embeds the documents, 2 the question, 3 asks the model.
    fake.script_reply(f"Bill Lumbergh. {PII}", at_request=3)
    with ic.AgentRuntime(budget=1.0) as rt:
        index = VectorStoreIndex.from_documents(docs, embed_model=embed)
        answer = index.as_query_engine(llm=llm, similarity_top_k=1).query("Who is Initech's CTO?")
        m = rt.metrics()
    assert str(answer) == "Bill Lumbergh. Write to [EMAIL_REDACTED] today."
    paths = [r["path"] for r in fake.requests()]
    assert paths.count("/v1/embeddings") == 2 and paths[-1] == "/v1/chat/completions"
    assert m["calls"] == fake.request_count == 3
    assert set(m["by_model"]) == {"text-embedding-3-small", "gpt-4o-mini"}
    assert Settings._llm is None, "nothing was configured globally"


def test_streamed_react_agent_answer_is_redacted(fake: FakeProvider) -> None:
    fake.script_reply(f"Thought: I can answer without using any more tools.\nAnswer: {PII}")
    agent = ReActAgent(tools=[], llm=llm_for(fake))

    async def run() -> tuple[str, str]:
        handler = agent.run(user_msg="How do I reach Initech's CTO?")
        streamed = "".join([ev.delta async for ev in handler.stream_events() if isinstance(ev, AgentStream)])
        return streamed, str(await handler)

    with ic.AgentRuntime(budget=1.0) as rt:
        streamed, answer = asyncio.run(run())
        m = rt.metrics()
    assert answer == "Write to [EMAIL_REDACTED] today."
    assert "[EMAIL_REDACTED]" in streamed and "@example.com" not in streamed
    assert fake.requests()[0]["body"]["stream"] is True
    assert m["calls"] == fake.request_count == 1


def test_a_query_loop_stops_before_overspending(fake: FakeProvider) -> None:
    llm = llm_for(fake, "gpt-4o", max_tokens=50)
    budget = 0.002
    done = 0
    with ic.AgentRuntime(budget=budget) as rt:
        with pytest.raises(ic.BudgetExceededError):  # noqa: PT012 - the loop is what the budget stops
            for _ in range(200):
                llm.complete(f"Lead #{done}?")
                done += 1
        m = rt.metrics()
    assert done >= 1
    assert 0 < rt.spent_usd <= budget
    assert m["calls"] == fake.request_count == done
    assert m["refused"] == 1


def test_llamaindex_examples_run() -> None:
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert scripts
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    for script in scripts:
        out = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env, check=False
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "[EMAIL_REDACTED]" in out.stdout and "@example.com" not in out.stdout
