"""Tool calls under a runtime: what requests offer and replies ask for (raw openai and
anthropic clients against FakeProvider, tool calls in the replies written by our own
generator), tool functions the agent runs (decorated, bound, LangChain tools), their events,
limits, breakers and the allow-list."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from faker import Faker
from langchain_core.tools import tool as lc_tool

import iron_cage as ic
from iron_cage.testing import FakeProvider, MockRuntime

fake_data = Faker()

WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SHELL: Any = {
    "type": "function",
    "function": {"name": "run_shell", "parameters": {"type": "object", "properties": {}}},
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def collect(rt: ic.AgentRuntime, *kinds: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    rt.on_event(lambda e: seen.append(e) if e["type"] in kinds else None)
    return seen


def chat_tool_call_reply(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-t",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(arguments)},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
    }


class ToolReplies(MockRuntime):
    """A MockRuntime whose replies ask for a tool (the in-process answer replaced by one the
    test writes, the way a provider would)."""

    def __init__(self, reply: dict[str, Any], **options: Any) -> None:
        super().__init__(**options)
        self.reply = reply

    def _answer(self, mod: Any, request: Any) -> Any:
        super()._answer(mod, request)  # records the call
        return mod.Response(200, json=self.reply, request=request)


# --- what the model is offered and asks for ------------------------------------------------


def test_a_request_offering_a_tool_outside_the_list_is_not_sent(fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    with ic.AgentRuntime(budget=1.0, allowed_tools=["get_weather"]) as rt:
        seen = collect(rt, "unauthorized_action")
        before = fake.request_count
        with pytest.raises(ic.PolicyError, match="run_shell") as info:
            client.chat.completions.create(
                model="gpt-4o-mini",
                max_tokens=20,
                tools=[WEATHER, SHELL],
                messages=[{"role": "user", "content": "hi"}],
            )
        assert info.value.code == "tool_not_allowed"
        assert fake.request_count == before and rt.spent_usd == 0
        assert seen and seen[0]["kind"] == "tool_not_allowed" and seen[0]["tool"] == "run_shell"
        client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=20, tools=[WEATHER], messages=[{"role": "user", "content": "hi"}]
        )
        assert fake.request_count == before + 1
        assert rt.metrics()["tools"]["run_shell"]["refused"] == 1


def test_anthropic_tools_are_checked_by_name(fake: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=fake.base_url.removesuffix("/v1"), api_key="k", max_retries=0)
    tools: Any = [{"name": "delete_repo", "input_schema": {"type": "object", "properties": {}}}]
    with ic.AgentRuntime(budget=1.0, allowed_tools=["get_weather"]):
        before = fake.request_count
        with pytest.raises(ic.PolicyError, match="delete_repo"):
            client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=20,
                tools=tools,
                messages=[{"role": "user", "content": "hi"}],
            )
        assert fake.request_count == before


def test_tool_calls_a_reply_asks_for_are_events_and_checked() -> None:
    city = fake_data.city()
    reply = chat_tool_call_reply("get_weather", {"city": city})
    client = openai.OpenAI(api_key="unused", max_retries=0)
    with ToolReplies(reply, budget=1.0) as rt:
        seen = collect(rt, "tool_call_requested")
        r = client.chat.completions.create(
            model="gpt-4o-mini",
            max_tokens=50,
            tools=[WEATHER],
            messages=[{"role": "user", "content": "weather?"}],
        )
        assert r.choices[0].message.tool_calls
        (event,) = seen
        assert event["tool"] == "get_weather" and event["model"] == "gpt-4o-mini"
        assert event["args_bytes"] == len(json.dumps({"city": city}))
        assert city not in json.dumps(event)  # argument values are not in events
        assert rt.metrics()["tools"]["get_weather"]["requested"] == 1
    # A reply asking for a tool outside the list is refused (and charged: the provider billed it).
    shell = chat_tool_call_reply("run_shell", {})
    with ToolReplies(shell, budget=1.0, allowed_tools=["get_weather"]) as rt:
        with pytest.raises(ic.PolicyError, match="run_shell"):
            client.chat.completions.create(
                model="gpt-4o-mini",
                max_tokens=50,
                tools=[WEATHER],
                messages=[{"role": "user", "content": "x"}],
            )
        assert rt.spent_usd > 0


# --- tools the agent runs -------------------------------------------------------------------


@ic.governed_tool
def lookup(order_id: str) -> str:
    return f"order {order_id}: shipped"


@ic.governed_tool(name="flaky_api")
def flaky(fail: bool) -> str:
    if fail:
        raise ConnectionError("upstream down")
    return "ok"


def test_a_governed_tool_is_an_event_with_its_outcome() -> None:
    order = fake_data.bothify("ORD-#####")
    assert lookup(order) == f"order {order}: shipped"  # outside a runtime: as it is
    with ic.AgentRuntime(budget=1.0) as rt:
        seen = collect(rt, "tool_call")
        assert lookup(order) == f"order {order}: shipped"
        with pytest.raises(ConnectionError):
            flaky(True)
        assert [(e["tool"], e["outcome"]) for e in seen] == [("lookup", "ok"), ("flaky_api", "error")]
        assert seen[1]["error"] == "ConnectionError"
        assert all(e["duration_ms"] >= 0 and e["args_bytes"] > 0 for e in seen)
        assert order not in json.dumps(seen)
        assert rt.metrics()["tools"]["flaky_api"] == {"runs": 1, "errors": 1, "refused": 0, "requested": 0}
    with ic.AgentRuntime(budget=1.0, record_tool_args=True) as rt:
        seen = collect(rt, "tool_call")
        lookup(order)
        assert seen[0]["args"] == [[order], {}]


def test_limits_breakers_and_the_allow_list_stop_a_tool_before_it_runs() -> None:
    ran: list[str] = []
    with ic.AgentRuntime(
        budget=1.0,
        allowed_tools=["search", "flaky_api"],
        tool_limits={"search": 2},
        tool_breakers={"failure_threshold": 2, "cooldown_s": 60},
    ) as rt:

        def find(q: str) -> str:
            ran.append(q)
            return f"results for {q}"

        search = rt.tool(find, name="search")
        assert search("a") == "results for a" and search("b") == "results for b"
        with pytest.raises(ic.PolicyError, match="limit") as limited:
            search("c")
        assert limited.value.code == "tool_limit" and ran == ["a", "b"]
        for _ in range(2):
            with pytest.raises(ConnectionError):
                flaky(True)
        with pytest.raises(ic.CircuitOpenError):
            flaky(False)  # the breaker is open: not run
        with pytest.raises(ic.PolicyError, match="not allowed"):
            lookup("x")
        tools = rt.metrics()["tools"]
        assert tools["search"]["refused"] == 1 and tools["flaky_api"]["refused"] == 1
        assert tools["lookup"] == {"runs": 0, "errors": 0, "refused": 1, "requested": 0}


def test_async_tools_are_governed_too() -> None:
    @ic.governed_tool
    async def fetch(url: str) -> int:
        await asyncio.sleep(0)
        return len(url)

    async def main() -> list[dict[str, Any]]:
        async with ic.AgentRuntime(budget=1.0, tool_limits={"*": 1}) as rt:
            seen = collect(rt, "tool_call")
            assert await fetch("https://example.org") == 19
            with pytest.raises(ic.PolicyError):
                await fetch("again")
            return seen

    assert [e["outcome"] for e in asyncio.run(main())] == ["ok", "refused"]


def test_langchain_tools_run_under_the_scope() -> None:
    @lc_tool
    def word_count(text: str) -> int:
        """Counts the words of a text."""
        return len(text.split())

    assert word_count.invoke({"text": "outside any runtime"}) == 3
    with ic.AgentRuntime(budget=1.0, tool_limits={"word_count": 1}) as rt:
        seen = collect(rt, "tool_call")
        assert word_count.invoke({"text": fake_data.sentence(nb_words=5)}) >= 1
        with pytest.raises(ic.PolicyError):
            word_count.invoke({"text": "twice"})
        assert [(e["tool"], e["outcome"]) for e in seen] == [("word_count", "ok"), ("word_count", "refused")]

    async def main() -> None:
        async with ic.AgentRuntime(budget=1.0, allowed_tools=[]) as rt:
            with pytest.raises(ic.PolicyError):
                await word_count.ainvoke({"text": "no tools"})
            assert rt.metrics()["tools"]["word_count"]["refused"] == 1

    asyncio.run(main())


def test_bad_tool_settings_say_what_is_expected() -> None:
    for kwargs, says in (
        ({"allowed_tools": "search"}, "list of tool names"),
        ({"tool_limits": {"search": -1}}, ">= 0"),
        ({"tool_breakers": {"threshold": 2}}, "unknown threshold"),
    ):
        with pytest.raises(ic.ConfigError, match=says):
            ic.AgentRuntime(**kwargs)
