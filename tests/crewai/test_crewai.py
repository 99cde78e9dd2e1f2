"""CrewAI 1.15 (openai 2.x on httpx) governed by iron-cage, against FakeProvider."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")

import httpx
import openai
import pytest
from crewai import LLM, Agent, Crew, Task
from crewai.tools import tool as crewai_tool

import iron_cage as ic
from iron_cage.integrations.crewai import govern, kickoff
from iron_cage.testing import FakeProvider, MockRuntime


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def crew_for(fake: FakeProvider, tasks: int = 1, model: str = "gpt-4o-mini") -> Crew:
    llm = LLM(model=model, base_url=fake.base_url, api_key="k")
    agent = Agent(role="Researcher", goal="Qualify leads", backstory="Careful.", llm=llm, verbose=False)
    todo = [
        Task(description=f"Qualify lead {i}", expected_output="a score", agent=agent) for i in range(tasks)
    ]
    return Crew(agents=[agent], tasks=todo, verbose=False)


def test_environment_is_the_httpx_one() -> None:
    assert openai.__version__.startswith("2.")
    assert httpx.__version__


def test_crew_calls_are_charged_and_redacted(fake: FakeProvider) -> None:
    fake.script_reply("Score 8. Reach the CTO at jane.roe@example.com.", at_request=2)
    rt = ic.AgentRuntime(budget=1.0)
    with govern(rt) as stats:
        result = crew_for(fake, tasks=2).kickoff()
    assert "jane.roe" not in str(result) and "[EMAIL_REDACTED]" in str(result)
    m = rt.metrics()
    assert m["calls"] == fake.request_count == 2
    assert m["pii_findings"] == 1
    assert stats.llm_calls == 2
    assert rt.spent_usd > 0


def test_spent_budget_stops_the_crew_before_a_model_call(fake: FakeProvider) -> None:
    rt = ic.AgentRuntime(budget=0.01)
    kickoff(crew_for(fake), rt)
    left = rt.remaining_usd
    assert rt.budget is not None and left is not None
    rt.budget.reserve(left).commit(left)
    with pytest.raises(ic.BudgetExceededError):
        kickoff(crew_for(fake), rt)
    assert fake.request_count == 1


def test_budget_refusal_is_raised_before_sending(fake: FakeProvider) -> None:
    rt = ic.AgentRuntime(budget=0.000001)
    with pytest.raises(ic.BudgetExceededError):
        kickoff(crew_for(fake, model="gpt-4o"), rt)
    assert fake.request_count == 0


def test_crewai_examples_run() -> None:
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "examples" / "crewai"
    scripts = sorted(folder.glob("*.py"))
    assert scripts
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    for script in scripts:
        out = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "[EMAIL_REDACTED]" in out.stdout and "initech-private" not in out.stdout


def test_a_crew_made_before_a_plain_runtime_scope_is_governed(fake: FakeProvider) -> None:
    # No govern(): the crew, its LLM and its OpenAI client exist before the scope,
    # and the scope alone meters every call.
    crew = crew_for(fake, tasks=2)
    with ic.AgentRuntime(budget=1.0) as rt:
        crew.kickoff()
        assert rt.metrics()["calls"] == fake.request_count == 2
        assert rt.spent_usd > 0


def test_a_streamed_crew_is_charged_and_redacted_across_chunks(fake: FakeProvider) -> None:
    filler = " ".join(f"word{i}" for i in range(150))
    fake.script_reply(f"{filler} Mail jane.roe@example.com now.")
    llm = LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="k", stream=True)
    agent = Agent(role="Writer", goal="Draft outreach", backstory="Brief.", llm=llm, verbose=False)
    crew = Crew(
        agents=[agent], tasks=[Task(description="Draft it", expected_output="an e-mail", agent=agent)]
    )
    with ic.AgentRuntime(budget=1.0) as rt:
        result = str(crew.kickoff())
        m = rt.metrics()
    assert fake.requests()[0]["body"]["stream"] is True
    assert result.endswith("Mail [EMAIL_REDACTED] now.") and "@example.com" not in result
    assert m["calls"] == fake.request_count == 1
    assert m["output_tokens"] > 0 and rt.spent_usd > 0


def test_a_long_crew_stops_before_overspending(fake: FakeProvider) -> None:
    llm = LLM(model="gpt-4o", base_url=fake.base_url, api_key="k", max_tokens=60)
    agent = Agent(role="Qualifier", goal="Score leads", backstory="Fast.", llm=llm, verbose=False)
    tasks = [Task(description=f"Score lead {n}", expected_output="a score", agent=agent) for n in range(50)]
    budget = 0.004
    rt = ic.AgentRuntime(budget=budget)
    with pytest.raises(ic.BudgetExceededError):
        kickoff(Crew(agents=[agent], tasks=tasks), rt)
    m = rt.metrics()
    assert 0 < rt.spent_usd <= budget
    assert m["calls"] == fake.request_count >= 2
    assert m["refused"] >= 1


# --- tools ----------------------------------------------------------------------------------


@crewai_tool("crm_lookup")
def crm_lookup(company: str) -> str:
    """Return what the CRM knows about a company."""
    return f"{company}: 3 open deals"


def tool_call_reply(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-tool",
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
        "usage": {"prompt_tokens": 60, "completion_tokens": 12, "total_tokens": 72},
    }


class ToolCallingModel(MockRuntime):
    """A MockRuntime whose first chat completion asks for a tool, as a model would."""

    def __init__(self, first: dict[str, Any], **options: Any) -> None:
        super().__init__(**options)
        self.first: dict[str, Any] | None = first

    def _answer(self, mod: Any, request: Any) -> Any:
        if self.first is not None and request.url.path.endswith("/chat/completions"):
            super()._answer(mod, request)  # recorded like every call
            reply, self.first = self.first, None
            return mod.Response(200, json=reply, request=request)
        return super()._answer(mod, request)


def tool_crew() -> Crew:
    llm = LLM(model="gpt-4o-mini", api_key="unused")
    agent = Agent(
        role="Researcher",
        goal="Know the account",
        backstory="Careful.",
        llm=llm,
        tools=[crm_lookup],
        verbose=False,
    )
    task = Task(description="What do we know about Initech?", expected_output="a summary", agent=agent)
    return Crew(agents=[agent], tasks=[task], verbose=False)


def tool_events(rt: ic.AgentRuntime) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    rt.on_event(lambda e: seen.append(e) if e["type"] in ("tool_call", "tool_call_requested") else None)
    return seen


def test_a_crew_tool_run_is_an_event_and_counted() -> None:
    rt = ToolCallingModel(tool_call_reply("crm_lookup", {"company": "Initech"}), budget=1.0)
    seen = tool_events(rt)
    with govern(rt) as stats:
        tool_crew().kickoff()
    assert [(e["type"], e["tool"]) for e in seen] == [
        ("tool_call_requested", "crm_lookup"),
        ("tool_call", "crm_lookup"),
    ]
    assert seen[1]["outcome"] == "ok" and "Initech" not in json.dumps(seen)
    assert stats.tool_calls == 1
    assert rt.metrics()["tools"]["crm_lookup"] == {"runs": 1, "errors": 0, "refused": 0, "requested": 1}


def test_a_crew_tool_over_its_limit_is_blocked_and_the_crew_goes_on() -> None:
    rt = ToolCallingModel(
        tool_call_reply("crm_lookup", {"company": "Initech"}), budget=1.0, tool_limits={"crm_lookup": 0}
    )
    seen = tool_events(rt)
    with govern(rt) as stats:
        result = tool_crew().kickoff()
    assert str(result)  # the agent was told the tool was blocked and answered anyway
    assert stats.tools_blocked == 1 and stats.tool_calls == 0
    assert [e["outcome"] for e in seen if e["type"] == "tool_call"] == ["refused"]


def test_a_crew_offering_a_tool_outside_the_allow_list_is_refused_before_sending() -> None:
    rt = MockRuntime(budget=1.0, allowed_tools=["web_search"])
    with govern(rt), pytest.raises(ic.PolicyError, match="crm_lookup"):
        tool_crew().kickoff()
    assert not [c for c in rt.calls if c["path"].endswith("/chat/completions")]
    assert rt.spent_usd == 0
