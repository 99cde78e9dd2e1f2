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
    series = api.client.get("/api/v1/usage/timeseries?bucket=day", headers=admin).json()
    assert [p["requests"] for p in series] == [1, 2]
    traces = api.client.get("/api/v1/traces", headers=admin).json()
    assert [t["request_id"] for t in traces] == ["c", "b", "a"]
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
    assert recent["requests"] == 2


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
