"""Refused and failed calls as runtimes report them: stored and listed, never usage, never a
reason to refuse a batch, and what they mean (unauthorized actions, breaker savings)."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def charged(rid: str, cost: float, **extra: Any) -> dict[str, Any]:
    """A report as runtimes before refusal reports sent it (no status, reason, count)."""
    return {
        "request_id": rid,
        "model": "gpt-4o",
        "provider": "openai",
        "input_tokens": 10,
        "cost_usd": cost,
        **extra,
    }


def refused(rid: str, status: str, model: str = "gpt-4o", **extra: Any) -> dict[str, Any]:
    return {"request_id": rid, "model": model, "cost_usd": "0", "status": status, "reason": "why", **extra}


def setup(api: Api, **policy: Any) -> tuple[dict[str, Any], str, str]:
    agent = api.agent(budget_usd=10)
    if policy:
        r = api.client.put(
            f"/api/v1/agents/{agent['id']}/model-policy", json=policy, headers=api.as_("admin")
        )
        assert r.status_code == 200, r.text
    token = api.ic_token(agent["id"])
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 5}).json()
    return agent, token, lease["lease_id"]


def post(api: Api, token: str, lease: str, reports: list[dict[str, Any]], **extra: Any) -> Any:
    return api.client.post(
        "/api/v1/budget/report",
        json={"lease_id": lease, "reports": reports, **extra},
        headers=api.auth(token),
    )


def traces(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = api.client.get("/api/v1/traces", params=params, headers=api.as_("admin"))
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def test_refused_and_failed_calls_are_listed_but_never_usage(api: Api) -> None:
    agent, token, lease = setup(api)
    rows = [
        charged("ok-1", 0.25),  # the old format: still accepted
        refused("r-budget", "refused_budget", count=40),
        refused("r-limit", "refused_limit"),
        refused("r-pii", "blocked_pii"),
        refused("r-open", "breaker_open", count=7, saved_usd="0.35", breaker_state="open"),
        refused("f-5xx", "failed_upstream", count=3),
        refused("f-timeout", "failed_timeout"),
        refused("f-billed", "failed_upstream", cost_usd="0.01"),  # billed although it failed
    ]
    r = post(api, token, lease, rows)
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["duplicates"]) == (8, 0)
    assert r.json()["lease"]["spent_usd"] == 0.26
    assert api.budget(agent["id"])["spent_usd"] == 0.26
    # Replayed: duplicates, nothing counted twice.
    again = post(api, token, lease, rows).json()
    assert (again["accepted"], again["duplicates"]) == (0, 8)
    assert api.budget(agent["id"])["spent_usd"] == 0.26

    assert len(traces(api)) == 8
    assert {t["request_id"] for t in traces(api, status="refused")} == {
        "r-budget",
        "r-limit",
        "r-pii",
        "r-open",
    }
    assert {t["request_id"] for t in traces(api, status="failed")} == {"f-5xx", "f-timeout", "f-billed"}
    [budget] = traces(api, status="refused_budget")
    assert (budget["count"], budget["reason"], budget["cost_usd"]) == (40, "why", 0.0)
    [opened] = traces(api, status="breaker_open")
    assert (opened["count"], opened["saved_usd"], opened["breaker_state"]) == (7, 0.35, "open")
    assert [t["count"] for t in traces(api, status="ok")] == [1]

    admin = api.as_("admin")
    summary = api.client.get("/api/v1/usage/summary", headers=admin).json()
    assert (summary["requests"], summary["cost_usd"], summary["input_tokens"]) == (2, 0.26, 10)
    by_model = api.client.get("/api/v1/usage/breakdown?by=model", headers=admin).json()
    assert [(g["key"], g["requests"]) for g in by_model] == [("gpt-4o", 2)]
    series = api.client.get("/api/v1/usage/timeseries", headers=admin).json()
    assert sum(p["requests"] for p in series) == 2


def test_a_refused_call_to_a_disallowed_model_does_not_refuse_its_batch(api: Api) -> None:
    agent, token, lease = setup(api, allowed_models=["gpt-4o"], allowed_providers=None)
    r = post(
        api,
        token,
        lease,
        [charged("ok", 0.1), refused("r-policy", "refused_policy", model="gpt-4o-mini", count=12)],
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    [denied] = api.client.get("/api/v1/unauthorized-actions", headers=api.as_("admin")).json()
    assert denied["kind"] == "model_not_allowed" and denied["agent_id"] == agent["id"]
    assert "refused 12 call(s)" in denied["detail"] and "gpt-4o-mini" in denied["detail"]
    # A call that was made (charged, or failed upstream) to that model still refuses the batch.
    for bad in (
        charged("made", 0.1, model="gpt-4o-mini"),
        refused("sent", "failed_upstream", model="gpt-4o-mini"),
    ):
        r = post(api, token, lease, [bad])
        assert r.status_code == 409 and r.json()["error"]["code"] == "model_not_allowed", r.text
    # A replayed refusal adds no second unauthorized action.
    post(api, token, lease, [refused("r-policy", "refused_policy", model="gpt-4o-mini", count=12)])
    assert len(api.client.get("/api/v1/unauthorized-actions", headers=api.as_("admin")).json()) == 3


def test_refusals_cost_nothing_and_their_fields_are_checked(api: Api) -> None:
    _, token, lease = setup(api)
    for bad in (
        refused("a", "refused_budget", cost_usd="0.1"),  # a refused call was never sent
        charged("b", 0.1, count=2),  # count is for refused and failed calls
        refused("c", "failed_timeout", saved_usd="1"),  # saved is an open breaker's
        refused("d", "refused_everything"),
        refused("e", "refused_budget", count=0),
    ):
        r = post(api, token, lease, [bad])
        assert r.status_code == 422, (bad, r.text)
    assert post(api, token, lease, []).status_code == 422  # neither reports nor events
    assert traces(api) == []


def receive(ws: Any, n: int) -> list[dict[str, Any]]:
    """The next ``n`` events that are not heartbeats or budget states."""
    out: list[dict[str, Any]] = []
    while len(out) < n:
        e = ws.receive_json()
        if e["type"] not in ("HEARTBEAT", "STATE_UPDATE"):
            out.append(e)
    return out


def test_breaker_events_carry_what_was_saved(api: Api) -> None:
    agent, token, lease = setup(api)
    dev = api.tokens.get("developer") or api.as_("developer")["Authorization"].split()[1]
    with api.client.websocket_connect(f"/ws?token={dev}") as ws:
        assert ws.receive_json()["type"] == "STATE_UPDATE"
        events = [
            {
                "request_id": "e1",
                "kind": "breaker",
                "breaker": "openai:gpt-4o",
                "model": "gpt-4o",
                "provider": "openai",
                "from_state": "closed",
                "to_state": "open",
                "failures": 5,
            },
        ]
        r = post(
            api,
            token,
            lease,
            [
                refused(
                    "o1", "breaker_open", count=9, saved_usd="0.09", provider="openai", breaker_state="open"
                )
            ],
            events=events,
        )
        assert r.status_code == 200, r.text
        seen = receive(ws, 2)
        # Only a transition, still open: what it saved since.
        r = post(api, token, lease, [refused("o2", "breaker_open", count=4, saved_usd="0.04")])
        assert r.status_code == 200, r.text
        seen += receive(ws, 2)
        closing = [{**events[0], "request_id": "e2", "from_state": "half_open", "to_state": "closed"}]
        r = post(api, token, lease, [], events=closing)  # events alone are a batch
        assert r.status_code == 200 and r.json()["accepted"] == 0, r.text
        seen += receive(ws, 1)
    kinds = [(e["type"], e.get("event"), e.get("state")) for e in seen]
    assert kinds == [
        ("BREAKER_EVENT", None, "open"),
        ("AGENT_EVENT", "calls_refused", None),
        ("BREAKER_EVENT", None, "open"),
        ("AGENT_EVENT", "calls_refused", None),
        ("BREAKER_EVENT", None, "closed"),
    ], kinds
    assert (seen[0]["calls_saved"], seen[0]["usd_saved"], seen[0]["from_state"]) == (9, 0.09, "closed")
    assert (seen[2]["calls_saved"], seen[2]["usd_saved"]) == (4, 0.04)
    assert seen[1]["calls"] == 9 and seen[1]["by_status"] == {"breaker_open": 9}
    assert seen[0]["failures"] == 5  # what tripped it, for the notification's breakdown
    assert seen[4]["from_state"] == "half_open" and "calls_saved" not in seen[4]
    assert "failures" not in seen[4] and "failures" not in seen[2]
    assert all(e["agent_id"] == agent["id"] for e in seen)
    assert api.budget(agent["id"])["spent_usd"] == 0


def test_a_stopped_agent_is_told_who_stopped_it_and_when(api: Api) -> None:
    agent, token, lease = setup(api)
    assert api.client.post(f"/api/v1/agents/{agent['id']}/stop", headers=api.as_("admin")).status_code == 200
    state = api.client.get(f"/api/v1/budget/leases/{lease}", headers=api.auth(token)).json()
    assert (
        state["stop"] is True and state["stopped_by"] == "admin@example.com (admin)" and state["stopped_at"]
    )
    for r in (
        api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 1}),
        api.client.post(
            "/api/v1/budget/refresh", json={"lease_id": lease, "requested_usd": 1}, headers=api.auth(token)
        ),
    ):
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "agent_stopped"
        assert err["details"]["stopped_by"] == "admin@example.com (admin)" and err["details"]["stopped_at"]
        assert "stopped by admin@example.com (admin) at " in err["message"] and "/resume" in err["message"]
    api.client.post(f"/api/v1/agents/{agent['id']}/resume", headers=api.as_("admin"))
    state = api.client.get(f"/api/v1/budget/leases/{lease}", headers=api.auth(token)).json()
    assert (state["stop"], state["stopped_by"], state["stopped_at"]) == (False, None, None)
