"""The OpenAI Agents SDK with no integration code: a plain ``AgentRuntime`` scope governs a
streamed run of an agent whose client was made before the scope (Responses API), and
redacts the stream across chunks. (``use_runtime`` and the hooks: test_openai_agents.py.)"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
from openai.types.responses import ResponseTextDeltaEvent

import iron_cage as ic
from iron_cage.testing import FakeProvider

set_tracing_disabled(True)


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


def test_streamed_run_of_an_earlier_client_is_charged_and_redacted(fake: FakeProvider) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(f"{filler} Mail jane.roe@example.com now.")
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    agent = Agent(name="writer", model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client))

    async def run() -> tuple[list[str], str]:
        result = Runner.run_streamed(agent, "Draft the outreach")
        deltas = [
            event.data.delta
            async for event in result.stream_events()
            if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
        ]
        await client.close()
        return deltas, str(result.final_output)

    with ic.AgentRuntime(budget=1.0) as rt:
        deltas, final = asyncio.run(run())
        m = rt.metrics()
    assert fake.requests()[0]["path"] == "/v1/responses"
    assert fake.requests()[0]["body"]["stream"] is True
    assert len([d for d in deltas if d]) > 1, "streamed, not one reply"
    assert "".join(deltas) == final
    assert final.endswith("Mail [EMAIL_REDACTED] now.") and "@example.com" not in final
    assert m["calls"] == fake.request_count == 1
    assert m["output_tokens"] > 0 and rt.spent_usd > 0
