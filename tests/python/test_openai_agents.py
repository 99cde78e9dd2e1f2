"""The OpenAI Agents SDK (openai-agents) governed by iron-cage, against FakeProvider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from agents import Agent, Runner, set_tracing_disabled

import iron_cage as ic
from iron_cage.integrations.openai_agents import IronCageRunHooks, use_runtime
from iron_cage.testing import FakeProvider

set_tracing_disabled(True)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def test_runs_are_charged_redacted_and_streamed(fake: FakeProvider) -> None:
    fake.script_reply("Reach me at jane.roe@example.com", at_request=2)
    rt = ic.AgentRuntime(budget=1.0)
    hooks = IronCageRunHooks(rt)

    async def run() -> tuple[str, str, str]:
        client = use_runtime(rt, base_url=fake.base_url, api_key="k", max_retries=0)
        agent = Agent(name="helper", instructions="Be brief.", model="gpt-4o-mini")
        first = await Runner.run(agent, "hello", hooks=hooks)
        second = await Runner.run(agent, "contact?", hooks=hooks)
        streamed = Runner.run_streamed(agent, "stream it", hooks=hooks)
        async for _ in streamed.stream_events():
            pass
        await client.close()
        return str(first.final_output), str(second.final_output), str(streamed.final_output)

    first, second, third = asyncio.run(run())
    assert first.startswith("Reply 1 from gpt-4o-mini")
    assert second == "Reach me at [EMAIL_REDACTED]"
    assert third.startswith("Reply 3")
    assert rt.metrics()["calls"] == 3 and hooks.llm_calls == 3
    assert fake.requests()[0]["path"] == "/v1/responses"
    assert rt.spent_usd > 0


def test_spent_budget_stops_the_run_before_the_model_call(fake: FakeProvider) -> None:
    rt = ic.AgentRuntime(budget=0.01)

    async def run() -> None:
        client = use_runtime(rt, base_url=fake.base_url, api_key="k", max_retries=0)
        agent = Agent(name="helper", model="gpt-4o-mini")
        await Runner.run(agent, "one", hooks=IronCageRunHooks(rt))
        left = rt.remaining_usd
        assert rt.budget is not None and left is not None
        rt.budget.reserve(left).commit(left)
        try:
            with pytest.raises(ic.BudgetExceededError, match="stopped before"):
                await Runner.run(agent, "two", hooks=IronCageRunHooks(rt))
        finally:
            await client.close()

    asyncio.run(run())
    assert fake.request_count == 1


def test_budget_refusal_inside_a_run_is_our_exception(fake: FakeProvider) -> None:
    rt = ic.AgentRuntime(budget=0.000001)

    async def run() -> None:
        client = use_runtime(rt, base_url=fake.base_url, api_key="k", max_retries=0)
        try:
            with pytest.raises(ic.BudgetExceededError):
                await Runner.run(Agent(name="a", model="gpt-4o"), "hi")
        finally:
            await client.close()

    asyncio.run(run())
    assert fake.request_count == 0
