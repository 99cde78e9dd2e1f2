"""Usage analytics and traces, from reports, scoped by role."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from .conftest import Api

UTC = timezone.utc


def report(api: Api, token: str, lease: str, rows: list[dict[str, Any]]) -> None:
    r = api.client.post(
        "/api/v1/budget/report", json={"lease_id": lease, "reports": rows}, headers=api.auth(token)
    )
    assert r.status_code == 200, r.text


def test_summary_breakdowns_timeseries_and_traces(api: Api) -> None:
    a1 = api.agent(budget_usd=10, project="leads")
    a2 = api.agent(budget_usd=10, project="support", owner="admin")
    t1, t2 = api.ic_token(a1["id"]), api.ic_token(a2["id"])
    l1 = api.client.post("/api/v1/budget/handshake", json={"ic_token": t1, "requested_usd": 5}).json()[
        "lease_id"
    ]
    l2 = api.client.post("/api/v1/budget/handshake", json={"ic_token": t2, "requested_usd": 5}).json()[
        "lease_id"
    ]
    day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    report(
        api,
        t1,
        l1,
        [
            {
                "request_id": "a",
                "model": "gpt-4o",
                "provider": "openai",
                "input_tokens": 1000,
                "output_tokens": 100,
                "cost_usd": "0.0035",
                "latency_ms": 120.5,
                "pii_findings": 2,
            },
            {
                "request_id": "b",
                "model": "gpt-4o-mini",
                "provider": "openai",
                "input_tokens": 500,
                "output_tokens": 50,
                "cost_usd": "0.0001",
                "occurred_at": day_ago,
            },
        ],
    )
    report(
        api,
        t2,
        l2,
        [
            {
                "request_id": "c",
                "model": "claude-haiku-4-5",
                "provider": "anthropic",
                "input_tokens": 10,
                "output_tokens": 10,
                "cost_usd": "0.00006",
                "breaker_state": "half_open",
                "status": "error",
            },
        ],
    )
    admin = api.as_("admin")
    total = api.client.get("/api/v1/usage/summary", headers=admin).json()
    assert total == {
        "requests": 3,
        "input_tokens": 1510,
        "output_tokens": 160,
        "cost_usd": 0.00366,
        "pii_findings": 2,
    }
    by_model = api.client.get("/api/v1/usage/breakdown?by=model", headers=admin).json()
    assert [g["key"] for g in by_model] == ["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"]  # costliest first
    by_project = {
        g["key"]: g["requests"]
        for g in api.client.get("/api/v1/usage/breakdown?by=project", headers=admin).json()
    }
    assert by_project == {"leads": 2, "support": 1}
    by_dev = {
        g["key"]: g["cost_usd"]
        for g in api.client.get("/api/v1/usage/breakdown?by=developer", headers=admin).json()
    }
    assert by_dev == {"developer@example.com": 0.0036, "admin@example.com": 0.00006}
    by_provider = {
        g["key"] for g in api.client.get("/api/v1/usage/breakdown?by=provider", headers=admin).json()
    }
    assert by_provider == {"openai", "anthropic"}
    # Usage is placed by when the server received it: "b", which says it happened a day ago,
    # is in today's bucket; its trace keeps the runtime's occurred_at.
    series = api.client.get("/api/v1/usage/timeseries?bucket=day", headers=admin).json()
    assert [p["requests"] for p in series] == [3]
    traces = api.client.get("/api/v1/traces", headers=admin).json()
    assert [t["request_id"] for t in traces] == ["c", "b", "a"]
    assert datetime.fromisoformat(traces[1]["occurred_at"]) < datetime.now(UTC) - timedelta(hours=23)
    assert datetime.fromisoformat(traces[1]["received_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert traces[0]["breaker_state"] == "half_open" and traces[0]["status"] == "error"
    assert traces[2]["latency_ms"] == 120.5 and traces[2]["pii_findings"] == 2
    page = api.client.get(f"/api/v1/traces?limit=1&before_id={traces[0]['id']}", headers=admin).json()
    assert [t["request_id"] for t in page] == ["b"]
    # A developer sees only their own agents' usage; a viewer sees everything.
    dev = api.client.get("/api/v1/usage/summary", headers=api.as_("developer")).json()
    assert dev["requests"] == 2
    assert api.client.get("/api/v1/usage/summary", headers=api.as_("viewer")).json()["requests"] == 3
    assert (
        api.client.get(f"/api/v1/traces?agent_id={a2['id']}", headers=api.as_("developer")).status_code == 403
    )
    recent = api.client.get(
        "/api/v1/usage/summary",
        params={"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
        headers=admin,
    ).json()
    assert recent["requests"] == 3


def test_bad_windows_and_groupings_are_clear_errors(api: Api) -> None:
    admin = api.as_("admin")
    r = api.client.get(
        "/api/v1/usage/summary",
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=admin,
    )
    assert r.status_code == 400 and "since must be before until" in r.json()["error"]["message"]
    r = api.client.get("/api/v1/usage/breakdown?by=color", headers=admin)
    assert r.status_code == 422 and "by" in r.json()["error"]["message"]


def test_a_back_dated_report_counts_today_and_the_daily_cap_bites(api: Api) -> None:
    """$3 reported as having happened in 2020, against a $1 daily cap: it is today's spend, in
    the usage reports and for the cap."""
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 3}).json()
    admin = api.as_("admin")
    cap = api.client.post(
        "/api/v1/limits", json={"agent_id": agent["id"], "kind": "daily_usd", "value": 1}, headers=admin
    )
    assert cap.status_code == 201, cap.text
    back_dated = {
        "request_id": "old",
        "model": "gpt-4o",
        "cost_usd": 3,
        "occurred_at": "2020-01-01T00:00:00Z",
    }
    report(api, token, lease["lease_id"], [back_dated])
    r = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 1})
    assert r.status_code == 402, r.text
    assert "daily limit is used up" in r.json()["error"]["message"]
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for params in ({}, {"since": midnight.isoformat()}):
        summary = api.client.get("/api/v1/usage/summary", params=params, headers=admin).json()
        assert summary["cost_usd"] == 3.0, params
    series = api.client.get("/api/v1/usage/timeseries?bucket=day", headers=admin).json()
    assert [(datetime.fromisoformat(p["bucket"]), p["cost_usd"]) for p in series] == [(midnight, 3.0)]
    old = api.client.get(
        "/api/v1/usage/summary",
        params={"since": "2019-12-31T00:00:00Z", "until": "2020-01-02T00:00:00Z"},
        headers=admin,
    ).json()
    assert old["requests"] == 0
