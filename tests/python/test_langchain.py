"""LangChain (ChatOpenAI, ChatAnthropic) governed by iron-cage, against FakeProvider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

import iron_cage as ic
from iron_cage.integrations.langchain import IronCageCallbackHandler, IronCageChain
from iron_cage.testing import FakeProvider

PII_REPLY = "Email jane.roe@example.com or call (415) 555-2671."
REDACTED = "Email [EMAIL_REDACTED] or call [PHONE_REDACTED]."


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def chain_for(fake: FakeProvider, **kw: object) -> tuple[ChatOpenAI, object]:
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=fake.base_url, api_key="k", max_retries=0, **kw)  # type: ignore[arg-type]
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("user", "{question}")])
    return llm, prompt | llm | StrOutputParser()


def test_chain_invoke_is_charged_and_redacted(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY, at_request=2)
    _, chain = chain_for(fake)
    governed = IronCageChain(chain, budget=1.0)  # type: ignore[arg-type]
    assert governed.instrumented == 2, "the sync and async clients of ChatOpenAI"
    first = governed.invoke({"question": "hello"})
    assert first.startswith("Reply 1 from gpt-4o-mini")
    assert governed.invoke({"question": "contact?"}) == REDACTED
    m = governed.runtime.metrics()
    assert m["calls"] == 2 and m["pii_findings"] == 2
    assert governed.runtime.spent_usd > 0
    assert governed.handler.llm_calls == 2


def test_chain_stream_and_async(fake: FakeProvider) -> None:
    fake.set_chunk_chars(3)
    fake.script_reply(PII_REPLY, at_request=1)
    fake.script_reply(PII_REPLY, at_request=2)
    _, chain = chain_for(fake)
    governed = IronCageChain(chain, budget=1.0)  # type: ignore[arg-type]
    assert "".join(governed.stream({"question": "x"})) == REDACTED

    async def run() -> str:
        return str(await governed.ainvoke({"question": "y"}))

    assert asyncio.run(run()) == REDACTED
    assert governed.runtime.metrics()["calls"] == 2


def test_chat_anthropic_is_bound_charged_and_redacted(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY, at_request=1)
    fake.script_reply(PII_REPLY, at_request=2)
    fake.set_chunk_chars(3)
    llm = ChatAnthropic(  # type: ignore[call-arg]
        model="claude-haiku-4-5",
        base_url=fake.base_url.removesuffix("/v1"),
        api_key="k",  # type: ignore[arg-type]
        max_retries=0,
        max_tokens=200,
    )
    prompt = ChatPromptTemplate.from_messages([("user", "{question}")])
    governed = IronCageChain(prompt | llm | StrOutputParser(), budget=1.0, auto_instrument=False)
    # ChatAnthropic builds its clients on first use; the wrapper builds and binds them.
    assert governed.instrumented == 2
    assert governed.invoke({"question": "contact?"}) == REDACTED
    assert "".join(governed.stream({"question": "again?"})) == REDACTED
    m = governed.runtime.metrics()
    assert m["by_model"]["claude-haiku-4-5"]["calls"] == 2
    assert m["breakers"] == {"anthropic:claude-haiku-4-5": "closed"}
    assert m["pii_findings"] == 4
    sent = fake.requests()
    assert [r["path"] for r in sent] == ["/v1/messages", "/v1/messages"]
    assert governed.runtime.spent_usd > 0


def test_structured_output_is_parsed_after_redaction(fake: FakeProvider) -> None:
    class Lead(BaseModel):
        company: str
        contact: str
        employees: int

    fake.script_reply('{"company": "Acme", "contact": "jane.roe@example.com", "employees": 40}', at_request=1)
    llm, _ = chain_for(fake)
    governed = IronCageChain(llm.with_structured_output(Lead, method="json_schema"), budget=1.0)
    lead = governed.invoke("Extract the lead from: Acme (40 people), write to jane.roe@example.com")
    assert lead == Lead(company="Acme", contact="[EMAIL_REDACTED]", employees=40)
    assert fake.requests()[0]["body"]["response_format"]["type"] == "json_schema"
    assert governed.runtime.metrics()["pii_findings"] == 1


def test_budget_exhaustion_raises_through_langchain(fake: FakeProvider) -> None:
    _, chain = chain_for(fake, max_tokens=2000)
    governed = IronCageChain(chain, budget=0.0005)  # type: ignore[arg-type]
    with pytest.raises(ic.BudgetExceededError):
        governed.invoke({"question": "hello"})
    assert fake.request_count == 0


def test_callback_handler_stops_a_spent_runtime(fake: FakeProvider) -> None:
    llm, _ = chain_for(fake)
    rt = ic.AgentRuntime(budget=0.01)
    rt.instrument(llm.root_client)
    handler = IronCageCallbackHandler(rt)
    with rt:
        llm.invoke("hello", config={"callbacks": [handler]})
        assert rt.budget is not None and rt.remaining_usd is not None
        left = rt.remaining_usd
        rt.budget.reserve(left).commit(left)  # another part of the agent spends the rest
        assert rt.remaining_usd == 0
        with pytest.raises(ic.BudgetExceededError, match="not started"):
            llm.invoke("again", config={"callbacks": [handler]})
    assert fake.request_count == 1


def test_tools_are_priced_with_the_request(fake: FakeProvider) -> None:
    @tool
    def lookup(company: str) -> str:
        """Look a company up in the CRM."""
        return company

    llm, _ = chain_for(fake)
    governed = IronCageChain(llm.bind_tools([lookup]), budget=1.0)
    governed.invoke("Who is Acme?")
    sent = fake.requests()[0]["body"]
    assert sent["tools"][0]["function"]["name"] == "lookup"
    assert governed.runtime.metrics()["input_tokens"] > 40, "the tool schema counts as input"


def test_batch_runs_concurrently_in_one_runtime(fake: FakeProvider) -> None:
    _, chain = chain_for(fake)
    governed = IronCageChain(chain, budget=1.0)  # type: ignore[arg-type]
    answers = governed.batch([{"question": f"q{i}"} for i in range(8)], config={"max_concurrency": 4})
    assert len(answers) == 8 and all(a.startswith("Reply") for a in answers)
    assert governed.runtime.metrics()["calls"] == 8
    assert ic.library.current_runtime() is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_models_inside_history_wrappers_are_found(fake: FakeProvider) -> None:
    from langchain_core.chat_history import InMemoryChatMessageHistory
    from langchain_core.prompts import MessagesPlaceholder
    from langchain_core.runnables.history import RunnableWithMessageHistory

    llm, _ = chain_for(fake)
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("user", "{input}")])
    history = InMemoryChatMessageHistory()
    chat = RunnableWithMessageHistory(
        prompt | llm, lambda _s: history, input_messages_key="input", history_messages_key="history"
    )
    governed = IronCageChain(chat, budget=1.0)
    assert governed.instrumented >= 2
    governed.invoke({"input": "hi"}, config={"configurable": {"session_id": "s"}})
    assert governed.runtime.metrics()["calls"] == 1
