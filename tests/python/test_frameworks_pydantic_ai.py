"""pydantic-ai agents governed by a plain ``AgentRuntime`` scope (no integration code),
against FakeProvider: replies, streamed text and structured output are redacted before
the agent sees them. (Its budget stop: tests/python/test_send_time_governance.py.)"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

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


class Lead(BaseModel):
    company: str
    contact: str
    score: int


def test_openai_and_claude_agents_share_one_budget_and_are_redacted(fake: FakeProvider) -> None:
    fake.script_reply(PII, at_request=1)
    fake.script_reply(PII, at_request=2)
    openai_provider = OpenAIProvider(base_url=fake.base_url, api_key="k")
    claude_provider = AnthropicProvider(base_url=fake.base_url.removesuffix("/v1"), api_key="k")
    researcher = Agent(OpenAIChatModel("gpt-4o-mini", provider=openai_provider))
    writer = Agent(AnthropicModel("claude-haiku-4-5", provider=claude_provider))

    async def run() -> tuple[str, str]:
        first = await researcher.run("Who runs Initech?")
        second = await writer.run("How do I reach them?")
        await openai_provider.client.close()
        await claude_provider.client.close()
        return first.output, second.output

    with ic.AgentRuntime(budget=1.0) as rt:
        outputs = asyncio.run(run())
        m = rt.metrics()
    assert outputs == ("Write to [EMAIL_REDACTED] today.",) * 2
    assert m["calls"] == fake.request_count == 2
    assert set(m["by_model"]) == {"gpt-4o-mini", "claude-haiku-4-5"}
    assert m["pii_findings"] == 2


def test_streamed_text_is_redacted_across_chunks(fake: FakeProvider) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(f"{filler} Mail jane.roe@example.com now. {filler}")
    provider = OpenAIProvider(base_url=fake.base_url, api_key="k")
    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider))

    async def run() -> list[str]:
        async with agent.run_stream("Draft the outreach") as result:
            pieces = [delta async for delta in result.stream_text(delta=True)]
        await provider.client.close()
        return pieces

    with ic.AgentRuntime(budget=1.0) as rt:
        pieces = asyncio.run(run())
        m = rt.metrics()
    text = "".join(pieces)
    assert fake.requests()[0]["body"]["stream"] is True
    assert len(pieces) > 1
    assert "Mail [EMAIL_REDACTED] now." in text and "@example.com" not in text
    assert m["calls"] == fake.request_count == 1 and rt.spent_usd > 0


def test_structured_output_is_redacted_before_validation(fake: FakeProvider) -> None:
    fake.script_reply('{"company": "Initech", "contact": "jane.roe@example.com", "score": 8}')
    provider = OpenAIProvider(base_url=fake.base_url, api_key="k")
    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider), output_type=NativeOutput(Lead))

    async def run() -> Lead:
        result = await agent.run("Qualify Initech")
        await provider.client.close()
        return result.output

    with ic.AgentRuntime(budget=1.0) as rt:
        lead = asyncio.run(run())
    assert lead == Lead(company="Initech", contact="[EMAIL_REDACTED]", score=8)
    assert fake.requests()[0]["body"]["response_format"]["type"] == "json_schema"
    assert rt.metrics()["calls"] == 1
