"""The endpoints the dashboard reads beyond the resources: an agent's call metrics, one call's
detail, every IC token at once, and ``PUT`` on limits."""

from __future__ import annotations

from typing import Any

import httpx

from iron_cage.client import ControlPanelClient
from iron_cage.control_panel.embedded import EmbeddedControlPanel

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api, make_settings


def report(api: Api, token: str, calls: list[dict[str, Any]]) -> None:
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 5})
    assert lease.status_code == 201, lease.text
    r = api.client.post(
        "/api/v1/budget/report",
        json={"lease_id": lease.json()["lease_id"], "reports": calls},
        headers=api.auth(token),
    )
    assert r.status_code == 200, r.text


def test_metrics_add_up_the_agents_calls(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    empty = api.client.get(f"/api/v1/agents/{agent['id']}/metrics", headers=api.as_("viewer")).json()
    assert empty["calls"]["requests"] == 0
    assert empty["calls"]["success_rate"] is None and empty["calls"]["latency"] is None

    # 100 calls, latencies 1..100 ms; 90 ok, 5 failed, 5 blocked; 300 of 1000 input tokens cached.
    calls = [
        {
            "request_id": f"m{i}",
            "model": "gpt-4o-mini",
            "cost_usd": "0.001",
            "latency_ms": float(i),
            "input_tokens": 10,
            "cached_tokens": 3,
            "status": "ok" if i <= 90 else ("error" if i <= 95 else "blocked"),
        }
        for i in range(1, 101)
    ]
    report(api, api.ic_token(agent["id"]), calls)
    m = api.client.get(f"/api/v1/agents/{agent['id']}/metrics", headers=api.as_("developer")).json()
    c = m["calls"]
    assert (c["requests"], c["succeeded"], c["success_rate"]) == (100, 90, 0.9)
    assert (c["input_tokens"], c["cached_tokens"], c["cache_hit_rate"]) == (1000, 300, 0.3)
    assert c["latency"] == {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
    assert c["cost_usd"] == 0.1
    assert m["process"] is None and m["metrics"] is None and c["uptime_s"] is None


def test_metrics_carry_the_supervisors_progress_and_uptime(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    process = {"local_id": "lg-7a3f9c2d", "state": "running", "pid": 42}
    assert api.client.post("/api/v1/runtime/process", json=process, headers=api.auth(token)).is_success
    metrics = {
        "unit": "leads",
        "done": 23,
        "total": 100,
        "successes": 23,
        "success_rate": 1,
        "elapsed_s": 390,
    }
    assert api.client.post("/api/v1/runtime/metrics", json=metrics, headers=api.auth(token)).is_success
    m = api.client.get(f"/api/v1/agents/{agent['id']}/metrics", headers=api.as_("admin")).json()
    assert m["metrics"]["progress"] == "23 / 100 leads"
    assert m["process"]["state"] == "running" and m["calls"]["uptime_s"] == 390


def test_a_trace_shows_its_agent_and_its_pii_findings(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    finding = {"entity": "EMAIL", "severity": "medium", "start": 3, "end": 20, "value_hmac": "ab" * 16}
    call = {
        "request_id": "with-pii",
        "model": "gpt-4o",
        "cost_usd": "0.002",
        "pii_findings": 1,
        "pii": [finding, {**finding, "entity": "SSN", "direction": "request", "action": "redacted"}],
    }
    report(api, api.ic_token(agent["id"]), [call, {"request_id": "plain", "model": "gpt-4o", "cost_usd": 0}])
    listed = api.client.get("/api/v1/traces", headers=api.as_("admin")).json()
    trace_id = next(t["id"] for t in listed if t["request_id"] == "with-pii")
    t = api.client.get(f"/api/v1/traces/{trace_id}", headers=api.as_("viewer")).json()
    assert t["agent_name"] == agent["name"] and t["model"] == "gpt-4o"
    assert [(f["entity"], f["direction"], f["action"]) for f in t["pii"]] == [
        ("EMAIL", "reply", None),
        ("SSN", "request", "redacted"),
    ]
    failed = {"request_id": "failed", "model": "gpt-4o", "cost_usd": 0, "status": "error"}
    report(api, api.ic_token(agent["id"]), [failed])
    errors = api.client.get("/api/v1/traces?status=error", headers=api.as_("admin")).json()
    assert [t["request_id"] for t in errors] == ["failed"]
    r = api.client.get("/api/v1/traces/999999", headers=api.as_("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_every_token_listed_with_its_agent_developers_see_their_own(api: Api) -> None:
    mine = api.agent(owner="developer")
    theirs = api.agent(owner="admin")
    t1 = api.client.post(f"/api/v1/agents/{mine['id']}/tokens", json={"name": "ci"}, headers=api.as_("admin"))
    api.ic_token(theirs["id"])
    revoked = t1.json()["info"]["id"]
    assert api.client.delete(f"/api/v1/tokens/{revoked}", headers=api.as_("admin")).status_code == 204
    api.ic_token(mine["id"])
    every = api.client.get("/api/v1/tokens", headers=api.as_("admin")).json()
    assert [t["agent_name"] for t in every] == [mine["name"], theirs["name"], mine["name"]]  # newest first
    assert all("token" not in t and t["prefix"].startswith("ic_") for t in every)
    own = api.client.get("/api/v1/tokens", headers=api.as_("developer")).json()
    assert {t["agent_id"] for t in own} == {mine["id"]}
    live = api.client.get("/api/v1/tokens?revoked=false", headers=api.as_("admin")).json()
    assert revoked not in {t["id"] for t in live} and len(live) == 2


def test_put_sets_a_limits_value_like_patch(api: Api) -> None:
    admin = api.as_("admin")
    x = api.client.post("/api/v1/limits", json={"kind": "daily_usd", "value": 5}, headers=admin).json()
    r = api.client.put(f"/api/v1/limits/{x['id']}", json={"value": 12.5}, headers=admin)
    assert r.status_code == 200 and r.json()["value"] == 12.5 and r.json()["kind"] == "daily_usd"
    assert api.client.get(f"/api/v1/limits/{x['id']}", headers=admin).json()["value"] == 12.5
    assert api.client.put("/api/v1/limits/999999", json={"value": 1}, headers=admin).status_code == 404


def test_the_client_has_the_new_operations(database_url: str) -> None:
    with (
        EmbeddedControlPanel(make_settings(database_url)) as cp,
        ControlPanelClient(cp.url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) as client,
    ):
        a = client.create_agent("client-made", budget_usd="5")
        token = client.create_token(a.id, "ci").token
        with httpx.Client(base_url=f"{cp.url}/api/v1", headers={"authorization": f"Bearer {token}"}) as rt:
            lease = rt.post("/budget/handshake", json={"requested_usd": 1}).json()["lease_id"]
            calls = [{"request_id": "c1", "model": "gpt-4o", "cost_usd": "0.01", "latency_ms": 40}]
            assert rt.post("/budget/report", json={"lease_id": lease, "reports": calls}).is_success
        assert [t.agent_name for t in client.list_all_tokens(revoked=False)] == ["client-made"]
        (t,) = client.traces(status="ok", model="gpt-4o")
        assert client.trace(t.id).agent_name == "client-made"
        calls_seen = client.agent_metrics(a.id).calls
        assert calls_seen is not None and calls_seen.requests == 1 and calls_seen.latency is not None
