"""Governed at send time: inside a runtime every SDK request is metered, however
and whenever its client was made; what cannot be metered is refused, never sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anthropic
import httpx
import httpx2
import openai
import pytest
import requests

import iron_cage as ic
from iron_cage.testing import FakeProvider

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

MSG: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def test_a_client_made_before_the_scope_is_governed(fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    with ic.AgentRuntime(budget=0.002) as rt:
        calls = 0
        refused = False
        for _ in range(30):
            try:
                client.chat.completions.create(model="gpt-4o", max_tokens=50, messages=MSG)
            except ic.BudgetExceededError:
                refused = True
                break
            calls += 1
        assert refused
        assert 0 < rt.spent_usd <= 0.002
        assert fake.request_count == calls == rt.metrics()["calls"]
    # Out of the scope it is the user's plain client again.
    client.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
    assert fake.request_count == calls + 1
    assert rt.metrics()["calls"] == calls
    client.close()


def test_async_and_streamed_calls_of_an_earlier_client(fake: FakeProvider) -> None:
    aclient = openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    client = anthropic.Anthropic(base_url=fake.base_url.removesuffix("/v1"), api_key="k", max_retries=0)

    async def run() -> None:
        r = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        assert r.choices[0].message.content
        stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
        async for _ in stream:
            pass
        await aclient.close()

    with ic.AgentRuntime(budget=1.0) as rt:
        asyncio.run(run())
        with client.messages.stream(
            model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            s.get_final_message()
        m = rt.metrics()
        assert m["calls"] == 3, m
        assert set(m["by_model"]) == {"gpt-4o-mini", "claude-haiku-4-5"}
        assert rt.spent_usd > 0
    client.close()


@pytest.mark.parametrize("module", [httpx, httpx2])
def test_a_custom_http_client_and_a_proxy_mount_are_governed(fake: FakeProvider, module: Any) -> None:
    # A client with its own http_client, whose requests go through a mounted
    # transport (as with HTTPS_PROXY) rather than the default pool.
    mounted = module.HTTPTransport()
    http = module.Client(mounts={"http://127.0.0.1": mounted})
    assert http._transport_for_url(module.URL(fake.base_url)) is mounted
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, http_client=http)
    with ic.AgentRuntime(budget=1.0) as rt:
        client.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
        assert rt.metrics()["calls"] == 1 and rt.spent_usd > 0
    http.close()


def test_runtimes_made_without_auto_instrument_govern_bound_clients_only(fake: FakeProvider) -> None:
    free = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    bound = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    with ic.AgentRuntime(budget=1.0, auto_instrument=False) as rt:
        rt.instrument(bound)
        free.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
        bound.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
        assert rt.metrics()["calls"] == 1
    # Bound clients stay governed out of the scope.
    bound.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
    assert rt.metrics()["calls"] == 2
    free.close()
    bound.close()


class _OwnSend(httpx2.Client):
    """An HTTP client that replaces the send path iron-cage governs."""

    def _send_single_request(self, request: httpx2.Request) -> httpx2.Response:
        return httpx2.Client._send_single_request(self, request)


def test_a_client_that_cannot_be_governed_is_refused_before_sending(fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, http_client=_OwnSend())
    with ic.AgentRuntime(budget=1.0), pytest.raises(ic.UngovernedRequestError) as info:
        client.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
    assert "_OwnSend replaces _send_single_request" in str(info.value)
    assert "rt.instrument" in str(info.value)
    assert fake.request_count == 0
    # Outside a runtime nothing is in the way.
    client.chat.completions.create(model="gpt-4o", max_tokens=5, messages=MSG)
    assert fake.request_count == 1
    client.close()


def test_other_http_libraries_cannot_reach_a_provider_unmetered() -> None:
    with ic.AgentRuntime(budget=1.0), pytest.raises(ic.UngovernedRequestError, match=r"api\.openai\.com"):
        # Refused before any connection is made (this machine has no route there anyway).
        requests.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o"}, timeout=5)


def test_billable_endpoints_that_cannot_be_priced_are_refused_under_a_limit(fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    with ic.AgentRuntime(budget=1.0), pytest.raises(ic.BudgetExceededError, match="cannot price"):
        client.images.generate(model="gpt-image-1", prompt="a cat")
    assert fake.request_count == 0
    client.close()


def test_pydantic_ai_agents_are_governed(fake: FakeProvider) -> None:
    import pydantic_ai
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    # The model, its provider and its HTTP client exist before any runtime.
    provider = OpenAIProvider(base_url=fake.base_url, api_key="k")
    agent = pydantic_ai.Agent(OpenAIChatModel("gpt-4o", provider=provider))

    async def run() -> int:
        runs = 0
        try:
            for _ in range(50):
                await agent.run("hello")
                runs += 1
        except ic.BudgetExceededError:
            pass
        finally:
            await provider.client.close()
        return runs

    with ic.AgentRuntime(budget=0.002) as rt:
        runs = asyncio.run(run())
        assert 1 <= runs < 50
        assert 0 < rt.spent_usd <= 0.002
        assert rt.metrics()["calls"] == fake.request_count == runs


def test_langchain_model_made_before_the_scope(fake: FakeProvider) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="gpt-4o-mini", base_url=fake.base_url, api_key="k", max_retries=0)  # type: ignore[arg-type]
    with ic.AgentRuntime(budget=1.0) as rt:
        assert llm.invoke("hello").content
        assert rt.metrics()["calls"] == 1


def test_agents_sdk_client_made_before_the_scope(fake: FakeProvider) -> None:
    from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled

    set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    agent = Agent(name="a", model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))

    async def run() -> str:
        result = await Runner.run(agent, "hello")
        await client.close()
        return str(result.final_output)

    with ic.AgentRuntime(budget=1.0) as rt:
        assert asyncio.run(run())
        assert rt.metrics()["calls"] == 1


FRESH_PROCESS = """
import asyncio, sys
import openai
import iron_cage as ic
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

base = sys.argv[1]
# Both made before this process has ever seen a runtime.
client = openai.OpenAI(base_url=base, api_key="k", max_retries=0)
provider = OpenAIProvider(base_url=base, api_key="k")
agent = Agent(OpenAIChatModel("gpt-4o", provider=provider))

async def runs():
    n = 0
    try:
        for _ in range(50):
            await agent.run("hello")
            n += 1
    except ic.BudgetExceededError:
        pass
    await provider.client.close()
    return n

with ic.AgentRuntime(budget=0.002) as rt:
    sent = 0
    try:
        for _ in range(30):
            client.chat.completions.create(
                model="gpt-4o", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
            )
            sent += 1
    except ic.BudgetExceededError:
        pass
    print(sent, round(rt.spent_usd, 6), rt.metrics()["calls"])
with ic.AgentRuntime(budget=0.002) as rt:
    print(asyncio.run(runs()), round(rt.spent_usd, 6), rt.metrics()["calls"])
"""


def test_clients_made_before_the_first_runtime_of_a_process(fake: FakeProvider) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, fake.base_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split("\n")
    for line in out[:2]:
        sent, spent, metered = line.split()
        assert 1 <= int(sent) < 30
        assert 0 < float(spent) <= 0.002
        assert int(metered) == int(sent)
    assert fake.request_count == sum(int(line.split()[0]) for line in out[:2])
