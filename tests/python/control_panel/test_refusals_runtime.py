"""Refused and failed calls from real runtimes (library and router mode) to a real Control
Panel process: the real openai client, the FakeProvider upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import iron_cage as ic

from .test_lease_client import Env, ask, lease_env, wait_for


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    yield from lease_env(database_url, tmp_path)


def traces(env: Env, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = env.api("GET", "/traces", params={"limit": 1000, **params})
    return out


def counts(env: Env) -> dict[str, int]:
    """Calls per status, as the Control Panel lists them (a record may stand for several)."""
    out: dict[str, int] = {}
    for t in traces(env):
        out[t["status"]] = out.get(t["status"], 0) + t["count"]
    return out


def test_refused_and_failed_library_calls_reach_the_traces_and_never_the_spend(env: Env) -> None:
    env.api(
        "PUT",
        f"/agents/{env.agent_id}/model-policy",
        json={"allowed_models": ["gpt-4o"], "allowed_providers": None},
    )
    with ic.AgentRuntime(
        budget=0.5,
        control_panel=env.server.url,
        ic_token=env.token,
        outbox_path=env.tmp / "o.db",
        failure_threshold=2,
        cooldown_s=600,
    ) as rt:
        assert rt.lease is not None
        client = rt.instrument(env.client())
        assert ask(client)
        with pytest.raises(ic.PolicyError):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(ic.BudgetExceededError):
            ask(client, max_tokens=100_000)  # its worst case is more than the lease
        with pytest.raises(ic.PiiBlockedError):  # a credential in the prompt: never sent
            ask(client, "my key is sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 3)
        env.fake.fail_next(503, times=2)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                ask(client)
        # The breaker opened after two failures: a retry storm is refused locally...
        for _ in range(300):
            with pytest.raises(ic.CircuitOpenError):
                ask(client)
        assert rt.lease.flush()
        assert rt.lease.status()["last_error"] == ""
        spent = rt.spent_usd
    # ... and reaches the Control Panel as a handful of records, not 300.
    assert counts(env) == {
        "ok": 1,
        "refused_policy": 1,
        "refused_budget": 1,
        "blocked_pii": 1,
        "failed_upstream": 2,
        "breaker_open": 300,
    }
    opened = traces(env, status="breaker_open")
    assert 1 <= len(opened) <= 5
    assert all(t["cost_usd"] == 0 and t["saved_usd"] > 0 and t["breaker_state"] == "open" for t in opened)
    assert "circuit breaker" in opened[0]["reason"]
    # One record, or two when the breaker's trip (it wakes the lease worker) drained the
    # counts between the two failures.
    failed = traces(env, status="failed")
    assert sum(t["count"] for t in failed) == 2 and len(failed) <= 2, failed
    assert {t["reason"] for t in failed} == {"the upstream answered 503"}
    [policy] = traces(env, status="refused_policy")
    assert policy["model"] == "gpt-4o-mini" and "gpt-4o-mini" in policy["reason"]
    [pii] = traces(env, status="blocked_pii")
    assert "sk-proj" not in pii["reason"]  # the entity, never the value
    assert {t["status"] for t in traces(env, status="refused")} == {
        "refused_policy",
        "refused_budget",
        "blocked_pii",
        "breaker_open",
    }
    # Spent is the one charged call's; usage counts it alone.
    assert env.budget()["spent_usd"] == pytest.approx(spent, abs=1e-6)
    assert env.usage_count() == 1
    # The runtime's policy refusal is an unauthorized action on the dashboard.
    denied = env.api("GET", "/unauthorized-actions")
    assert [d["kind"] for d in denied] == ["model_not_allowed"]


def test_a_stopped_agent_is_refused_saying_who_stopped_it(env: Env) -> None:
    with ic.AgentRuntime(
        budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=env.tmp / "o.db"
    ) as rt:
        client = rt.instrument(env.client())
        assert ask(client)
        env.api("POST", f"/agents/{env.agent_id}/stop")
        wait_for(lambda: rt.lease is not None and rt.lease.stop_requested)
        for _ in range(20):
            with pytest.raises(
                ic.BudgetExceededError, match=r"stopped in the Control Panel by \S+ \(admin\) at "
            ):
                ask(client)
        assert rt.lease is not None and rt.lease.flush()
    [stopped] = traces(env, status="refused_stopped")
    assert stopped["count"] == 20 and "resume" in stopped["reason"]
    with (
        pytest.raises(ic.ControlPanelError, match=r"stopped in the Control Panel by \S+ \(admin\) at ") as e,
        ic.AgentRuntime(
            budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=env.tmp / "o2.db"
        ),
    ):
        pass
    assert (e.value.status, e.value.code) == (409, "agent_stopped")


def test_router_mode_reports_its_refusals(env: Env) -> None:
    env.api(
        "PUT",
        f"/agents/{env.agent_id}/model-policy",
        json={"allowed_models": ["gpt-4o"], "allowed_providers": None},
    )
    with ic.LlmRouter(
        server_url=env.server.url, api_key=env.token, budget=0.5, outbox_path=env.tmp / "router.db"
    ) as router:
        client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
        assert ask(client)
        for _ in range(50):
            with pytest.raises(openai.PermissionDeniedError):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                )
        assert router.lease is not None and router.lease.flush()
    assert counts(env) == {"ok": 1, "refused_policy": 50}
    assert len(traces(env, status="refused_policy")) <= 5


def test_refused_tools_are_reported_and_a_disallowed_one_is_an_unauthorized_action(env: Env) -> None:
    with ic.AgentRuntime(
        budget=0.5,
        control_panel=env.server.url,
        ic_token=env.token,
        outbox_path=env.tmp / "o.db",
        allowed_tools=["search"],
        tool_limits={"search": 1},
    ) as rt:
        search = rt.tool(lambda q: f"results for {q}", name="search")
        shell = rt.tool(lambda cmd: cmd, name="shell")
        assert search("a") == "results for a"
        for _ in range(30):  # an agent retrying a tool over its limit
            with pytest.raises(ic.PolicyError, match="limit"):
                search("b")
        for _ in range(3):
            with pytest.raises(ic.PolicyError, match="not allowed"):
                shell("rm -rf /")
        assert rt.lease is not None and rt.lease.flush()
    rows = traces(env, status="refused_tool")
    assert {t["model"] for t in rows} == {"tool:search", "tool:shell"}
    assert sum(t["count"] for t in rows if t["model"] == "tool:search") == 30
    assert sum(t["count"] for t in rows if t["model"] == "tool:shell") == 3
    assert all("rm -rf" not in t["reason"] for t in rows)  # the code and the tool, never the arguments
    assert env.usage_count() == 0 and env.budget()["spent_usd"] == 0
    denied = env.api("GET", "/unauthorized-actions")
    assert [d["kind"] for d in denied] == ["tool_not_allowed"] * len(
        [t for t in rows if t["model"] == "tool:shell"]
    )
    assert "'shell'" in denied[0]["detail"]


def test_a_timed_out_call_reaches_the_spend_as_a_charged_failure(env: Env) -> None:
    # The provider received the request and may bill it: the runtime charges the worst case
    # reserved and reports that call on its own, so the Control Panel's spend counts it.
    env.fake.set_latency(1.0)
    with ic.AgentRuntime(
        budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=env.tmp / "o.db"
    ) as rt:
        assert rt.lease is not None
        with rt.instrument(
            openai.OpenAI(base_url=env.fake.base_url, api_key="k", max_retries=0, timeout=0.2)
        ) as client:
            for _ in range(2):
                with pytest.raises(openai.APITimeoutError):
                    ask(client, max_tokens=500)
            env.fake.set_latency(0.0)
            assert ask(client)
        assert rt.lease.flush()
        spent = rt.spent_usd
    timed_out = traces(env, status="failed_timeout")
    assert len(timed_out) == 2 and {t["count"] for t in timed_out} == {1}
    assert all(t["cost_usd"] > 0 and "ReadTimeout" in t["reason"] for t in timed_out)
    assert env.fake.request_count == 3 == env.usage_count()  # every call the provider got is usage
    assert env.budget()["spent_usd"] == pytest.approx(spent, abs=1e-6)
    assert spent == pytest.approx(sum(t["cost_usd"] for t in traces(env)), abs=1e-6)
