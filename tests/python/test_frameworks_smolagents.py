"""smolagents (CodeAgent and ToolCallingAgent on ``OpenAIServerModel``) governed by a plain
``AgentRuntime`` scope (no integration code), against FakeProvider."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest
from smolagents import CodeAgent, OpenAIServerModel, ToolCallingAgent, tool  # type: ignore[import-untyped]
from smolagents.utils import AgentGenerationError  # type: ignore[import-untyped]

import iron_cage as ic
from iron_cage.testing import FakeProvider


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


@tool  # type: ignore[untyped-decorator]
def lead_score(company: str) -> int:
    """Score a sales lead from 1 to 10.

    Args:
        company: The company's name.
    """
    return 8 if company == "Initech" else 5


def model_for(fake: FakeProvider, model: str = "gpt-4o-mini", **kw: Any) -> OpenAIServerModel:
    return OpenAIServerModel(model_id=model, api_base=fake.base_url, api_key="k", **kw)


def code(body: str) -> str:
    return f"Thought: next step.\n<code>\n{body}\n</code>"


def test_code_agent_steps_are_charged_and_its_answer_redacted(fake: FakeProvider) -> None:
    fake.script_reply(code('score = lead_score("Initech")\nprint(score)'), at_request=1)
    fake.script_reply(code('final_answer(f"Score {score}: write to jane.roe@example.com")'), at_request=2)
    agent = CodeAgent(tools=[lead_score], model=model_for(fake), verbosity_level=-1)
    with ic.AgentRuntime(budget=1.0) as rt:
        answer = agent.run("Qualify Initech")
        m = rt.metrics()
    assert answer == "Score 8: write to [EMAIL_REDACTED]"
    assert m["calls"] == fake.request_count == 2
    assert m["pii_findings"] == 1
    assert 0 < rt.spent_usd <= 1.0


def test_streamed_code_agent_is_redacted(fake: FakeProvider) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(f"Thought: {filler}\n" + code('final_answer("Mail jane.roe@example.com now.")'))
    agent = CodeAgent(tools=[], model=model_for(fake), verbosity_level=-1, stream_outputs=True)
    with ic.AgentRuntime(budget=1.0) as rt:
        answer = agent.run("Draft the outreach")
        m = rt.metrics()
    assert fake.requests()[0]["body"]["stream"] is True
    assert answer == "Mail [EMAIL_REDACTED] now."
    assert m["calls"] == fake.request_count == 1
    assert m["output_tokens"] > 0 and rt.spent_usd > 0


def test_tool_calling_agent_is_governed(fake: FakeProvider) -> None:
    # FakeProvider answers in text; smolagents parses a tool call written as JSON.
    fake.script_reply('{"name": "lead_score", "arguments": {"company": "Initech"}}', at_request=1)
    fake.script_reply(
        '{"name": "final_answer", "arguments": {"answer": "8, contact jane.roe@example.com"}}', at_request=2
    )
    agent = ToolCallingAgent(tools=[lead_score], model=model_for(fake), verbosity_level=-1)
    with ic.AgentRuntime(budget=1.0) as rt:
        answer = agent.run("Qualify Initech")
        m = rt.metrics()
    assert answer == "8, contact [EMAIL_REDACTED]"
    assert "8" in str(fake.requests()[1]["body"]["messages"])
    assert m["calls"] == fake.request_count == 2


def test_an_agent_that_never_finishes_stops_before_overspending(fake: FakeProvider) -> None:
    # The default reply has no code: every step fails to parse and the agent tries
    # again until max_steps; the budget ends it first. smolagents wraps a model error
    # in AgentGenerationError, with our exception as its cause.
    model = model_for(fake, "gpt-4o", max_tokens=60)
    agent = CodeAgent(tools=[], model=model, verbosity_level=-1, max_steps=500)
    budget = 0.05
    with ic.AgentRuntime(budget=budget) as rt:
        with pytest.raises(AgentGenerationError) as info:
            agent.run("Find every lead on the internet")
        m = rt.metrics()
    assert isinstance(info.value.__cause__, ic.BudgetExceededError)
    assert 0 < rt.spent_usd <= budget
    assert m["calls"] == fake.request_count >= 2
    assert m["refused"] == 1
