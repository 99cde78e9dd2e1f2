"""LangGraph graphs governed by a plain ``AgentRuntime`` scope (no integration code),
with the real ``langgraph`` and LangChain chat models against FakeProvider."""

from __future__ import annotations

import asyncio
import ipaddress
import operator
import socket
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

import iron_cage as ic
from iron_cage.testing import FakeProvider

PII = "Write to jane.roe@example.com today."


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The framework reaches nothing but FakeProvider: no model, tokenizer or telemetry fetch."""
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


def openai_model(fake: FakeProvider, model: str = "gpt-4o-mini", **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=fake.base_url, api_key="k", max_retries=0, **kw)  # type: ignore[arg-type]


class Fan(TypedDict):
    notes: Annotated[list[str], operator.add]


class Lead(TypedDict, total=False):
    company: str
    research: str
    email: str


def lead_pipeline(llm: ChatOpenAI) -> Any:
    def research(state: Lead) -> Lead:
        return {"research": str(llm.invoke(f"Research {state['company']}").content)}

    def write(state: Lead) -> Lead:
        return {"email": str(llm.invoke(f"Write an e-mail from: {state['research']}").content)}

    graph = StateGraph(Lead)
    graph.add_node("research", research)
    graph.add_node("write", write)
    graph.add_edge(START, "research")
    graph.add_edge("research", "write")
    graph.add_edge("write", END)
    return graph.compile()


def chat_graph(
    llm: ChatOpenAI | ChatAnthropic, checkpointer: InMemorySaver | None = None, *, asynchronous: bool = False
) -> Any:
    async def achat(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    def chat(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [llm.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("chat", achat if asynchronous else chat)
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    return graph.compile(checkpointer=checkpointer)


def test_graph_made_before_the_scope_is_charged_and_redacted(fake: FakeProvider) -> None:
    fake.script_reply(PII, at_request=2)
    app = lead_pipeline(openai_model(fake))
    with ic.AgentRuntime(budget=1.0) as rt:
        out = app.invoke({"company": "Initech"})
        m = rt.metrics()
    assert out["research"].startswith("Reply 1 from gpt-4o-mini")
    assert out["email"] == "Write to [EMAIL_REDACTED] today."
    assert m["calls"] == fake.request_count == 2
    assert m["pii_findings"] == 1
    assert 0 < rt.spent_usd <= 1.0


def test_parallel_branches_run_in_worker_threads_and_are_governed(fake: FakeProvider) -> None:
    # LangGraph runs the nodes of one step in a thread pool that copies the context,
    # so the runtime of the caller's scope governs every branch.
    llm = openai_model(fake)

    def branch(name: str) -> Any:
        def node(state: dict[str, list[str]]) -> dict[str, list[str]]:
            return {"notes": [f"{name}: {llm.invoke(f'Look at {name}').content}"]}

        return node

    graph = StateGraph(Fan)
    for name in ("pricing", "team", "funding"):
        graph.add_node(name, branch(name))
        graph.add_edge(START, name)
        graph.add_edge(name, END)
    app = graph.compile()
    with ic.AgentRuntime(budget=1.0) as rt:
        out = app.invoke({"notes": []})
        assert rt.metrics()["calls"] == fake.request_count == 3
    assert sorted(n.split(":")[0] for n in out["notes"]) == ["funding", "pricing", "team"]


def test_token_stream_of_a_graph_is_redacted_across_chunks(fake: FakeProvider) -> None:
    # Long enough that the reply streams in more than one piece past the scanner's hold-back.
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(f"{filler} Mail jane.roe@example.com now. {filler}")
    app = chat_graph(openai_model(fake))
    pieces: list[str] = []
    with ic.AgentRuntime(budget=1.0) as rt:
        for chunk, _meta in app.stream({"messages": [HumanMessage("hello")]}, stream_mode="messages"):
            if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, str):
                pieces.append(chunk.content)
        m = rt.metrics()
    text = "".join(pieces)
    assert fake.requests()[0]["body"]["stream"] is True
    assert len([p for p in pieces if p]) > 1, "streamed, not one reply"
    assert "Mail [EMAIL_REDACTED] now." in text and "@example.com" not in text
    assert m["calls"] == fake.request_count == 1 and m["output_tokens"] > 0
    assert rt.spent_usd > 0


def test_a_looping_graph_stops_before_overspending(fake: FakeProvider) -> None:
    # The loop never finishes on its own: only the budget ends it.
    llm = openai_model(fake, model="gpt-4o", max_tokens=50)

    def work(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [llm.invoke(state["messages"][-1:])]}

    def again(state: MessagesState) -> str:
        return END if "DONE" in str(state["messages"][-1].content) else "work"

    graph = StateGraph(MessagesState)
    graph.add_node("work", work)
    graph.add_edge(START, "work")
    graph.add_conditional_edges("work", again)
    app = graph.compile()
    budget = 0.002
    with ic.AgentRuntime(budget=budget) as rt:
        with pytest.raises(ic.BudgetExceededError):
            app.invoke({"messages": [HumanMessage("keep going")]}, {"recursion_limit": 500})
        m = rt.metrics()
    assert 0 < rt.spent_usd <= budget
    assert m["calls"] == fake.request_count >= 2
    assert m["refused"] == 1


def test_async_checkpointed_conversation_with_claude(fake: FakeProvider) -> None:
    fake.script_reply(PII, at_request=2)
    llm = ChatAnthropic(  # type: ignore[call-arg]
        model="claude-haiku-4-5",
        base_url=fake.base_url.removesuffix("/v1"),
        api_key="k",  # type: ignore[arg-type]
        max_retries=0,
        max_tokens=200,
    )
    app = chat_graph(llm, checkpointer=InMemorySaver(), asynchronous=True)
    thread = {"configurable": {"thread_id": "lead-42"}}

    async def run() -> list[BaseMessage]:
        await app.ainvoke({"messages": [HumanMessage("Who runs Initech?")]}, thread)
        out = await app.ainvoke({"messages": [HumanMessage("How do I reach them?")]}, thread)
        return list(out["messages"])

    with ic.AgentRuntime(budget=1.0) as rt:
        messages = asyncio.run(run())
        m = rt.metrics()
    assert len(messages) == 4, "the checkpointer kept the first turn"
    assert messages[-1].content == "Write to [EMAIL_REDACTED] today."
    assert len(fake.requests()[1]["body"]["messages"]) == 3
    assert fake.requests()[1]["path"] == "/v1/messages"
    assert m["calls"] == fake.request_count == 2
    assert set(m["by_model"]) == {"claude-haiku-4-5"}
