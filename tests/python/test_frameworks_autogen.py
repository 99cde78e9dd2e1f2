"""AutoGen AgentChat (autogen-agentchat with autogen-ext's OpenAI client) governed by a
plain ``AgentRuntime`` scope (no integration code), against FakeProvider."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.messages import ModelClientStreamingChunkEvent, TextMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_ext.models.openai import OpenAIChatCompletionClient

import iron_cage as ic
from iron_cage.testing import FakeProvider

# FakeProvider answers with the dated model name, as OpenAI does; AutoGen warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Resolved model mismatch:UserWarning")

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


def client_for(fake: FakeProvider, model: str = "gpt-4o-mini") -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(model=model, base_url=fake.base_url, api_key="k", max_retries=0)


def test_agent_made_before_the_scope_is_charged_and_redacted(fake: FakeProvider) -> None:
    fake.script_reply(PII, at_request=2)
    client = client_for(fake)
    agent = AssistantAgent("qualifier", model_client=client, system_message="Be brief.")

    async def run() -> tuple[str, str]:
        first = await agent.run(task="Qualify Initech")
        second = await agent.run(task="Who do I contact?")
        await client.close()
        return first.messages[-1].to_text(), second.messages[-1].to_text()

    with ic.AgentRuntime(budget=1.0) as rt:
        first, second = asyncio.run(run())
        m = rt.metrics()
    assert first.startswith("Reply 1 from gpt-4o-mini")
    assert second == "Write to [EMAIL_REDACTED] today."
    assert m["calls"] == fake.request_count == 2
    assert m["pii_findings"] == 1
    assert 0 < rt.spent_usd <= 1.0


def test_streamed_agent_run_is_redacted_across_chunks(fake: FakeProvider) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(f"{filler} Mail jane.roe@example.com now. {filler}")
    client = client_for(fake)
    agent = AssistantAgent("writer", model_client=client, model_client_stream=True)

    async def run() -> tuple[list[str], str]:
        chunks: list[str] = []
        final = ""
        async for event in agent.run_stream(task="Draft the outreach"):
            if isinstance(event, ModelClientStreamingChunkEvent):
                chunks.append(event.content)
            elif isinstance(event, TaskResult):
                last = event.messages[-1]
                assert isinstance(last, TextMessage)
                final = last.content
        await client.close()
        return chunks, final

    with ic.AgentRuntime(budget=1.0) as rt:
        chunks, final = asyncio.run(run())
        m = rt.metrics()
    assert fake.requests()[0]["body"]["stream"] is True
    assert len([c for c in chunks if c]) > 1, "streamed, not one reply"
    assert "".join(chunks) == final
    assert "Mail [EMAIL_REDACTED] now." in final and "@example.com" not in final
    assert m["calls"] == fake.request_count == 1
    assert m["output_tokens"] > 0 and rt.spent_usd > 0


def test_a_round_robin_team_is_governed_call_by_call(fake: FakeProvider) -> None:
    writer_client, critic_client = client_for(fake), client_for(fake, "gpt-4o")
    writer = AssistantAgent("writer", model_client=writer_client)
    critic = AssistantAgent("critic", model_client=critic_client)
    team = RoundRobinGroupChat([writer, critic], termination_condition=MaxMessageTermination(5))

    async def run() -> TaskResult:
        result = await team.run(task="Write a two-line pitch for Initech")
        await writer_client.close()
        await critic_client.close()
        return result

    with ic.AgentRuntime(budget=1.0) as rt:
        result = asyncio.run(run())
        m = rt.metrics()
    assert [msg.source for msg in result.messages] == ["user", "writer", "critic", "writer", "critic"]
    assert m["calls"] == fake.request_count == 4
    assert set(m["by_model"]) == {"gpt-4o-mini", "gpt-4o"}


def test_agent_runs_stop_before_overspending(fake: FakeProvider) -> None:
    client = client_for(fake, "gpt-4o")
    agent = AssistantAgent("looper", model_client=client)
    budget = 0.003

    async def run() -> int:
        runs = 0
        try:
            for _ in range(200):
                await agent.run(task=f"Lead #{runs}?")
                runs += 1
        except ic.BudgetExceededError:
            return runs
        finally:
            await client.close()
        raise AssertionError("the budget never stopped the agent")

    with ic.AgentRuntime(budget=budget) as rt:
        runs = asyncio.run(run())
        m = rt.metrics()
    assert runs >= 1
    assert 0 < rt.spent_usd <= budget
    assert m["calls"] == fake.request_count == runs
    assert m["refused"] == 1


def test_a_team_stops_before_overspending(fake: FakeProvider) -> None:
    # A team runs its agents on AutoGen's own runtime, which re-raises an agent's error
    # as a RuntimeError carrying the original type and message.
    client = client_for(fake, "gpt-4o")
    team = RoundRobinGroupChat(
        [AssistantAgent("a", model_client=client), AssistantAgent("b", model_client=client)],
        termination_condition=MaxMessageTermination(500),
    )
    budget = 0.003

    async def run() -> None:
        try:
            await team.run(task="Debate forever")
        finally:
            await client.close()

    with ic.AgentRuntime(budget=budget) as rt:
        with pytest.raises(RuntimeError, match=r"^BudgetExceededError: budget exceeded"):
            asyncio.run(run())
        m = rt.metrics()
    assert 0 < rt.spent_usd <= budget
    assert m["calls"] == fake.request_count >= 2
    assert m["refused"] == 1
