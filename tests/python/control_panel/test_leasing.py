"""The lease protocol: grant, report (idempotent, batched), refresh, return, expiry, bad input."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update

from iron_cage.control_panel import leasing
from iron_cage.control_panel.models import Budget, Lease, UsageRecord

from .conftest import Api, RuntimeKeys


def usage(request_id: str, cost: float | str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_usd": cost,
        **extra,
    }


def handshake(api: Api, token: str, amount: float | str = 1) -> Any:
    return api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": amount})


def test_handshake_grants_min_of_request_and_available(api: Api) -> None:
    agent = api.agent(budget_usd="2.5")
    token = api.ic_token(agent["id"])
    first = handshake(api, token, 2)
    assert first.status_code == 201, first.text
    assert first.json()["granted_usd"] == 2.0
    assert first.json()["remaining_usd"] == 0.5
    second = handshake(api, token, 2)
    assert second.json()["granted_usd"] == 0.5
    third = handshake(api, token, 1)
    assert third.status_code == 402
    assert third.json()["error"]["code"] == "budget_exceeded"
    assert "ask an admin" in third.json()["error"]["message"]
    assert api.budget(agent["id"]) == {
        "agent_id": agent["id"],
        "limit_usd": 2.5,
        "spent_usd": 0.0,
        "leased_usd": 2.5,
        "available_usd": 0.0,
        "pool_id": None,
    }


def test_handshake_accepts_bearer_header_and_seals_the_provider_key(api: Api) -> None:
    r = api.client.post(
        "/api/v1/providers/keys",
        json={"provider": "openai", "key": "sk-proj-abcdefghijklmnop1234"},
        headers=api.as_("admin"),
    )
    assert r.status_code == 201 and "abcdefghijklmnop" not in r.text
    agent = api.agent()
    token = api.ic_token(agent["id"])
    keys = RuntimeKeys()
    answer = api.client.post(
        "/api/v1/budget/handshake",
        json={"requested_usd": 1, "key_exchange": keys.request()},
        headers=api.auth(token),
    )
    lease = answer.json()
    assert lease["provider"] == "openai" and "abcdefghijklmnop" not in answer.text
    assert keys.open(lease["provider_key_sealed"], lease["lease_id"]) == "sk-proj-abcdefghijklmnop1234"
    # Nobody else sees the plaintext: the key list is masked for every role.
    for role in ("admin", "developer", "viewer"):
        listed = api.client.get("/api/v1/providers/keys", headers=api.as_(role))
        assert listed.status_code == 200 and "abcdefghijklmnop" not in listed.text


def test_report_is_idempotent_and_moves_cost_from_leased_to_spent(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 4).json()
    batch = {"lease_id": lease["lease_id"], "reports": [usage("r1", "0.25"), usage("r2", "0.5")]}
    r = api.client.post("/api/v1/budget/report", json=batch, headers=api.auth(token))
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["duplicates"]) == (2, 0)
    assert r.json()["lease"]["lease_remaining_usd"] == 3.25
    again = api.client.post("/api/v1/budget/report", json=batch, headers=api.auth(token))
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    mixed = {"lease_id": lease["lease_id"], "reports": [usage("r2", "0.5"), usage("r3", "1")]}
    assert (
        api.client.post("/api/v1/budget/report", json=mixed, headers=api.auth(token)).json()["accepted"] == 1
    )
    b = api.budget(agent["id"])
    assert (b["spent_usd"], b["leased_usd"], b["available_usd"]) == (1.75, 2.25, 6.0)


def test_a_reports_answer_carries_the_limits_in_force_and_the_lease_as_recorded(api: Api) -> None:
    admin = api.as_("admin")
    agent, other = api.agent(budget_usd=10), api.agent(budget_usd=10)
    for body in (
        {"kind": "max_tokens_per_request", "value": 4000},
        {"kind": "max_cost_per_request_usd", "value": 0.5},
        {"agent_id": agent["id"], "kind": "max_tokens_per_request", "value": 1000},
        {"agent_id": other["id"], "kind": "daily_usd", "value": 3},
    ):
        assert api.client.post("/api/v1/limits", json=body, headers=admin).status_code == 201
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 4).json()
    batch = {"lease_id": lease["lease_id"], "reports": [usage("lim-1", "0.25")]}
    answer = api.client.post("/api/v1/budget/report", json=batch, headers=api.auth(token)).json()["lease"]
    assert answer["limits"] == lease["limits"]
    # The agent's own limit wins over the global one; another agent's limit does not apply.
    assert answer["limits"]["max_tokens_per_request"] == 1000
    assert answer["limits"]["max_cost_per_request_usd"] == 0.5
    assert answer["limits"]["daily_usd"] is None
    assert (answer["spent_usd"], answer["lease_remaining_usd"]) == (0.25, 3.75)
    polled = api.client.get(f"/api/v1/budget/leases/{lease['lease_id']}", headers=api.auth(token)).json()
    assert polled["spent_usd"] == 0.25 and polled["limits"] == answer["limits"]
    # With no limit of its own or global, every limit is unset.
    for row in api.client.get("/api/v1/limits", headers=admin).json():
        api.client.delete(f"/api/v1/limits/{row['id']}", headers=admin)
    again = {"lease_id": lease["lease_id"], "reports": [usage("lim-2", "0.25")]}
    bare = api.client.post("/api/v1/budget/report", json=again, headers=api.auth(token)).json()["lease"]
    assert bare["limits"]["max_tokens_per_request"] is None and bare["limits"]["daily_usd"] is None


def test_return_gives_back_the_unspent_part_once(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 4).json()
    api.client.post(
        "/api/v1/budget/report",
        json={"lease_id": lease["lease_id"], "reports": [usage("a", 1)]},
        headers=api.auth(token),
    )
    for _ in range(2):  # returning twice is harmless
        r = api.client.post(
            "/api/v1/budget/return", json={"lease_id": lease["lease_id"]}, headers=api.auth(token)
        )
        assert r.status_code == 200 and r.json()["status"] == "returned"
    b = api.budget(agent["id"])
    assert (b["spent_usd"], b["leased_usd"], b["available_usd"]) == (1.0, 0.0, 9.0)
    # A late replay on the returned lease still counts, once, as spent.
    late = api.client.post(
        "/api/v1/budget/report",
        json={"lease_id": lease["lease_id"], "reports": [usage("b", 2)]},
        headers=api.auth(token),
    )
    assert late.json()["accepted"] == 1
    assert api.budget(agent["id"])["spent_usd"] == 3.0
    assert api.budget(agent["id"])["leased_usd"] == 0.0


def test_refresh_adds_to_a_live_lease_and_closed_leases_refuse(api: Api) -> None:
    agent = api.agent(budget_usd=3)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 1).json()
    r = api.client.post(
        "/api/v1/budget/refresh",
        json={"lease_id": lease["lease_id"], "requested_usd": 5},
        headers=api.auth(token),
    )
    assert r.status_code == 200, r.text
    assert r.json()["granted_usd"] == 3.0 and r.json()["remaining_usd"] == 0.0
    assert r.json()["expires_at"] >= lease["expires_at"]
    api.client.post("/api/v1/budget/return", json={"lease_id": lease["lease_id"]}, headers=api.auth(token))
    closed = api.client.post(
        "/api/v1/budget/refresh",
        json={"lease_id": lease["lease_id"], "requested_usd": 1},
        headers=api.auth(token),
    )
    assert closed.status_code == 410 and "handshake again" in closed.json()["error"]["message"]
    assert api.budget(agent["id"])["leased_usd"] == 0.0


def test_expired_lease_budget_returns_to_the_pool(api: Api) -> None:
    """A runtime that dies holding a lease: after expiry (+grace) the sweeper frees the unspent part."""
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 6).json()
    api.client.post(
        "/api/v1/budget/report",
        json={"lease_id": lease["lease_id"], "reports": [usage("x", 2)]},
        headers=api.auth(token),
    )
    assert handshake(api, token, 10).json()["granted_usd"] == 4.0  # 10 - 2 spent - 4 still leased
    assert leasing.sweep(api.cp.db, grace_s=0) == 0  # nothing is due yet
    with api.cp.db.session() as s:
        s.execute(update(Lease).where(Lease.id == lease["lease_id"]).values(expires_at=Lease.created_at))
    assert leasing.sweep(api.cp.db, grace_s=3600) == 0  # still inside the grace period
    assert leasing.sweep(api.cp.db, grace_s=0) == 1
    b = api.budget(agent["id"])
    assert (b["spent_usd"], b["leased_usd"], b["available_usd"]) == (2.0, 4.0, 4.0)
    with api.cp.db.session() as s:
        assert s.scalar(select(Lease.status).where(Lease.id == lease["lease_id"])) == "expired"
    r = api.client.post(
        "/api/v1/budget/refresh",
        json={"lease_id": lease["lease_id"], "requested_usd": 1},
        headers=api.auth(token),
    )
    assert r.status_code == 410


def test_sweeper_runs_in_the_server(api: Api) -> None:
    from fastapi.testclient import TestClient

    from iron_cage.control_panel import ControlPanel, create_app

    from .conftest import make_settings

    cp = ControlPanel(
        make_settings(api.cp.settings.database_url, sweep_interval_s=0.05, lease_grace_s=0, lease_ttl_s=0)
    )
    agent = api.agent(budget_usd=5)
    token = api.ic_token(agent["id"])
    with TestClient(create_app(control_panel=cp)) as client:
        r = client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 5})
        assert r.status_code == 201
        deadline = time.monotonic() + 10
        while api.budget(agent["id"])["leased_usd"] and time.monotonic() < deadline:
            time.sleep(0.05)
    cp.close()
    assert api.budget(agent["id"])["available_usd"] == 5.0


def test_another_agents_lease_is_refused_and_nothing_changes(api: Api) -> None:
    a, b = api.agent(budget_usd=5), api.agent(budget_usd=5)
    ta, tb = api.ic_token(a["id"]), api.ic_token(b["id"])
    lease = handshake(api, ta, 2).json()
    for path, body in [
        ("report", {"lease_id": lease["lease_id"], "reports": [usage("z", 1)]}),
        ("refresh", {"lease_id": lease["lease_id"], "requested_usd": 1}),
        ("return", {"lease_id": lease["lease_id"]}),
    ]:
        r = api.client.post(f"/api/v1/budget/{path}", json=body, headers=api.auth(tb))
        assert r.status_code == 403, (path, r.text)
        assert "another agent" in r.json()["error"]["message"]
    assert api.budget(a["id"])["leased_usd"] == 2.0 and api.budget(a["id"])["spent_usd"] == 0.0
    assert api.budget(b["id"])["leased_usd"] == 0.0


def test_bad_input_is_a_clear_4xx_and_changes_nothing(api: Api) -> None:
    agent = api.agent(budget_usd=5)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 1).json()
    before = api.budget(agent["id"])
    cases: list[tuple[str, dict[str, Any], dict[str, str], int]] = [
        ("handshake", {"ic_token": "ic_forged", "requested_usd": 1}, {}, 401),
        ("handshake", {"ic_token": "not-a-token", "requested_usd": 1}, {}, 401),
        ("handshake", {"requested_usd": 1}, {}, 401),
        ("handshake", {"ic_token": token, "requested_usd": -1}, {}, 422),
        ("handshake", {"ic_token": token, "requested_usd": 0}, {}, 422),
        ("handshake", {"ic_token": token, "requested_usd": "1e12"}, {}, 422),
        ("handshake", {"ic_token": token, "requested_usd": "NaN"}, {}, 422),
        ("handshake", {"ic_token": token, "requested_usd": "0.0000001"}, {}, 422),
        ("report", {"lease_id": lease["lease_id"], "reports": [usage("n", -1)]}, api.auth(token), 422),
        ("report", {"lease_id": lease["lease_id"], "reports": []}, api.auth(token), 422),
        (
            "report",
            {"lease_id": lease["lease_id"], "reports": [usage("d", 1), usage("d", 1)]},
            api.auth(token),
            400,
        ),
        ("report", {"lease_id": "lse_missing", "reports": [usage("m", 1)]}, api.auth(token), 404),
        ("report", {"lease_id": lease["lease_id"], "reports": [usage("u", 1)]}, api.as_("admin"), 403),
        (
            "report",
            {"lease_id": lease["lease_id"], "reports": [usage("v", 1)]},
            {"Authorization": "Bearer x.y.z"},
            401,
        ),
        ("refresh", {"lease_id": lease["lease_id"], "requested_usd": -5}, api.auth(token), 422),
        ("return", {"lease_id": lease["lease_id"], "extra": 1}, api.auth(token), 422),
    ]
    for path, body, headers, status in cases:
        r = api.client.post(f"/api/v1/budget/{path}", json=body, headers=headers)
        assert r.status_code == status, (path, body, r.text)
        err = r.json()["error"]
        assert err["code"] and err["message"], r.text
    assert api.budget(agent["id"]) == before
    traces = api.client.get("/api/v1/traces", headers=api.as_("admin")).json()
    assert traces == []


def test_a_revoked_token_or_stopped_agent_gets_no_lease(api: Api) -> None:
    agent = api.agent(budget_usd=5)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 1).json()
    stop = api.client.post(f"/api/v1/agents/{agent['id']}/stop", headers=api.as_("developer"))
    assert stop.status_code == 200 and stop.json()["stop_requested"]
    # The runtime learns it on its next report, which still counts.
    r = api.client.post(
        "/api/v1/budget/report",
        json={"lease_id": lease["lease_id"], "reports": [usage("s", 0.1)]},
        headers=api.auth(token),
    )
    assert r.status_code == 200 and r.json()["lease"]["stop"] is True
    assert handshake(api, token, 1).status_code == 409
    api.client.post(f"/api/v1/agents/{agent['id']}/resume", headers=api.as_("admin"))
    assert handshake(api, token, 1).status_code == 201
    tokens = api.client.get(f"/api/v1/agents/{agent['id']}/tokens", headers=api.as_("admin")).json()
    assert api.client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=api.as_("admin")).status_code == 204
    assert handshake(api, token, 1).status_code == 401


def test_budget_requests_raise_the_allocation_when_approved(api: Api) -> None:
    agent = api.agent(budget_usd=1)
    token = api.ic_token(agent["id"])
    assert handshake(api, token, 1).json()["granted_usd"] == 1.0
    req = api.client.post(
        "/api/v1/budget/requests",
        json={"agent_id": agent["id"], "amount_usd": 25, "reason": "more leads"},
        headers=api.as_("developer"),
    )
    assert req.status_code == 201, req.text
    rejected = api.client.post(
        "/api/v1/budget/requests",
        json={"agent_id": agent["id"], "amount_usd": 5},
        headers=api.as_("developer"),
    ).json()
    assert (
        api.client.post(f"/api/v1/budget/requests/{rejected['id']}/reject", headers=api.as_("admin")).json()[
            "status"
        ]
        == "rejected"
    )
    assert (
        api.client.post(
            f"/api/v1/budget/requests/{req.json()['id']}/approve", headers=api.as_("developer")
        ).status_code
        == 403
    )
    ok = api.client.post(f"/api/v1/budget/requests/{req.json()['id']}/approve", headers=api.as_("admin"))
    assert ok.json()["status"] == "approved"
    again = api.client.post(f"/api/v1/budget/requests/{req.json()['id']}/approve", headers=api.as_("admin"))
    assert again.status_code == 409
    assert api.budget(agent["id"])["limit_usd"] == 26.0
    assert handshake(api, token, 30).json()["granted_usd"] == 25.0


def test_limit_cannot_drop_below_spent_plus_leased(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    handshake(api, token, 6)
    r = api.client.put(
        f"/api/v1/agents/{agent['id']}/budget", json={"limit_usd": 5}, headers=api.as_("admin")
    )
    assert r.status_code == 409 and r.json()["error"]["details"]["minimum_usd"] == 6.0
    r = api.client.put(
        f"/api/v1/agents/{agent['id']}/budget", json={"limit_usd": 7}, headers=api.as_("admin")
    )
    assert r.status_code == 200 and r.json()["available_usd"] == 1.0


def test_refresh_with_nothing_left_still_restarts_the_clock(api: Api) -> None:
    agent = api.agent(budget_usd=1)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 1).json()
    r = api.client.post(
        "/api/v1/budget/refresh",
        json={"lease_id": lease["lease_id"], "requested_usd": 1},
        headers=api.auth(token),
    )
    assert r.status_code == 200, r.text
    assert r.json()["granted_usd"] == 1.0 and r.json()["ttl_s"] > 0
    assert r.json()["expires_at"] >= lease["expires_at"]


def report(api: Api, token: str, lease_id: str, rows: list[dict[str, Any]]) -> Any:
    return api.client.post(
        "/api/v1/budget/report", json={"lease_id": lease_id, "reports": rows}, headers=api.auth(token)
    )


def test_a_leases_reports_never_add_up_to_more_than_its_grant(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, 4).json()["lease_id"]
    assert report(api, token, lease, [usage("r1", 3)]).status_code == 200
    over = report(api, token, lease, [usage("r2", "0.5"), usage("r3", 1)])
    assert over.status_code == 409, over.text
    err = over.json()["error"]
    assert err["code"] == "lease_exceeded"
    assert err["message"].startswith(
        f"these reports add $1.500000 to lease {lease!r}, which has $1.000000 of its $4.000000 left: "
        "a lease's reports never add up to more than it was granted, so nothing in this batch was recorded"
    )
    assert err["details"] == {"lease_id": lease, "granted_usd": 4.0, "spent_usd": 3.0, "batch_usd": 1.5}
    single = report(api, token, lease, [usage("r4", 5)])
    assert single.status_code == 409
    assert single.json()["error"]["message"].startswith(
        f"report 'r4' costs $5.000000, more than lease {lease!r} was granted in all ($4.000000)"
    )
    b = api.budget(agent["id"])
    assert (b["spent_usd"], b["leased_usd"]) == (3.0, 1.0)  # the refused batches recorded nothing
    # Idempotency holds: a replayed report is a duplicate and does not count against the lease.
    ok = report(api, token, lease, [usage("r1", 3), usage("r2", "0.5")]).json()
    assert (ok["accepted"], ok["duplicates"], ok["lease"]["lease_remaining_usd"]) == (1, 1, 0.5)
    api.client.post(
        "/api/v1/budget/refresh", json={"lease_id": lease, "requested_usd": 2}, headers=api.auth(token)
    )
    assert report(api, token, lease, [usage("r3", 1), usage("r5", "1.5")]).json()["accepted"] == 2
    api.client.post("/api/v1/budget/return", json={"lease_id": lease}, headers=api.auth(token))
    late = report(api, token, lease, [usage("r6", "0.01")])  # a closed lease is no different
    assert late.status_code == 409 and late.json()["error"]["code"] == "lease_exceeded"
    b = api.budget(agent["id"])
    assert (b["spent_usd"], b["leased_usd"], b["available_usd"]) == (6.0, 0.0, 4.0)
    traces = api.client.get("/api/v1/traces", headers=api.as_("admin")).json()
    assert sorted(t["request_id"] for t in traces) == ["r1", "r2", "r3", "r5"]


def _integer_column(api: Api, sql: str) -> None:
    """On SQLite an integer overflow silently becomes REAL; the column must still hold integers."""
    if api.cp.db.dialect == "sqlite":
        with api.cp.db.session() as s:
            assert set(s.scalars(text(sql))) <= {"integer"}


def test_huge_reports_cannot_overflow_spend_or_the_usage_totals(api: Api) -> None:
    agent = api.agent(budget_usd="1000000000")
    token = api.ic_token(agent["id"])
    lease = handshake(api, token, "1000000000").json()["lease_id"]
    # 10 batches of 1000 reports of $1e9 each: 1e19 micro-USD in all, past 2^63.
    for n in range(10):
        batch = [usage(f"huge-{n}-{i}", "1000000000") for i in range(1000)]
        r = report(api, token, lease, batch)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "lease_exceeded"
    assert report(api, token, lease, [usage("whole", "1000000000")]).status_code == 200
    assert report(api, token, lease, [usage("more", "0.000001")]).status_code == 409
    assert api.budget(agent["id"])["spent_usd"] == 1e9
    _integer_column(api, "SELECT typeof(spent_micros) FROM budgets")
    _integer_column(api, "SELECT typeof(spent_micros) FROM leases")

    # Late reports on returned leases count as spent only; an agent's spend still stops at the
    # ceiling, far inside 64 bits.
    other = api.agent(budget_usd="1000000000")
    other_token = api.ic_token(other["id"])
    returned = handshake(api, other_token, "1000000000").json()["lease_id"]
    api.client.post("/api/v1/budget/return", json={"lease_id": returned}, headers=api.auth(other_token))
    with api.cp.db.session() as s:
        s.execute(
            update(Budget)
            .where(Budget.agent_id == other["id"])
            .values(spent_micros=leasing.MAX_SPENT_MICROS - 10)
        )
    ceiling = report(api, other_token, returned, [usage("late", 1)])
    assert ceiling.status_code == 409, ceiling.text
    assert ceiling.json()["error"]["code"] == "spend_ceiling"
    assert "past $1,000,000,000,000" in ceiling.json()["error"]["message"]
    with api.cp.db.session() as s:
        spent = s.scalar(select(Budget.spent_micros).where(Budget.agent_id == other["id"]))
    assert spent == leasing.MAX_SPENT_MICROS - 10
    _integer_column(api, "SELECT typeof(spent_micros) FROM budgets")

    # Usage totals past 2^63 (9,300 calls of $1e9, each within what a lease allows) still answer.
    with api.cp.db.session() as s:
        s.execute(
            insert(UsageRecord),
            [
                {
                    "request_id": f"big-{i}",
                    "lease_id": lease,
                    "agent_id": agent["id"],
                    "model": "gpt-4o-mini",
                    "cost_micros": 10**15,
                    "input_tokens": 10**15,
                }
                for i in range(9300)
            ],
        )
    admin = api.as_("admin")
    summary = api.client.get("/api/v1/usage/summary", headers=admin)
    assert summary.status_code == 200, summary.text
    assert summary.json()["requests"] == 9301
    assert summary.json()["cost_usd"] == pytest.approx(9301e9)
    assert summary.json()["input_tokens"] == pytest.approx(9300e15 + 100, rel=1e-12)
    for by in ("agent", "model", "developer"):
        r = api.client.get(f"/api/v1/usage/breakdown?by={by}", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()[0]["cost_usd"] == pytest.approx(9301e9)
    assert api.client.get("/api/v1/usage/timeseries", headers=admin).status_code == 200
