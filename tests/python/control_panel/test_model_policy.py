"""Allowed models and providers per developer and agent: in every lease answer's limits, and
usage reports for anything else refused (409 model_not_allowed) and counted as unauthorized."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def usage(request_id: str, model: str, provider: str = "", cost: str = "0.01") -> dict[str, Any]:
    return {"request_id": request_id, "model": model, "provider": provider, "cost_usd": cost}


def test_the_lease_carries_both_lists_and_their_intersection(api: Api) -> None:
    admin = api.as_("admin")
    dev = api.user_id("developer")
    agent = api.agent()
    token = api.ic_token(agent["id"])

    def limits() -> dict[str, Any]:
        r = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": "0.1"})
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()["limits"]
        return out

    assert (limits()["allowed_models"], limits()["allowed_providers"]) == (None, None)
    r = api.client.put(
        f"/api/v1/users/{dev}/model-policy",
        json={"allowed_models": ["GPT-4o-mini", "gpt-4o", "claude-haiku-4-5"], "allowed_providers": None},
        headers=admin,
    )
    listed = ["claude-haiku-4-5", "gpt-4o", "gpt-4o-mini"]  # lower case, sorted
    assert r.status_code == 200 and r.json()["allowed_models"] == listed
    assert limits()["allowed_models"] == listed
    # The agent's own lists narrow the developer's: a dated snapshot of an allowed model stays.
    api.client.put(
        f"/api/v1/agents/{agent['id']}/model-policy",
        json={"allowed_models": ["gpt-4o-mini-2024-07-18", "o3"], "allowed_providers": ["openai"]},
        headers=admin,
    )
    got = limits()
    assert got["allowed_models"] == ["gpt-4o-mini-2024-07-18"] and got["allowed_providers"] == ["openai"]
    shown = api.client.get(f"/api/v1/agents/{agent['id']}/model-policy", headers=api.as_("developer")).json()
    assert shown["effective"] == {
        "allowed_models": ["gpt-4o-mini-2024-07-18"],
        "allowed_providers": ["openai"],
    }
    assert shown["developer"]["allowed_providers"] is None
    bad = api.client.put(
        f"/api/v1/agents/{agent['id']}/model-policy", json={"allowed_models": ["has space"]}, headers=admin
    )
    assert bad.status_code == 422


def test_a_report_for_a_disallowed_model_is_refused_and_recorded(api: Api) -> None:
    admin = api.as_("admin")
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    api.client.put(
        f"/api/v1/agents/{agent['id']}/model-policy",
        json={
            "allowed_models": ["gpt-4o-mini", "claude-haiku-4-5"],
            "allowed_providers": ["openai", "anthropic"],
        },
        headers=admin,
    )
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 1}).json()

    def report(*reports: dict[str, Any]) -> Any:
        body = {"lease_id": lease["lease_id"], "reports": list(reports)}
        return api.client.post("/api/v1/budget/report", json=body, headers=api.auth(token))

    # Exact names and dated snapshots of them pass, in any case.
    ok = report(
        usage("a", "gpt-4o-mini"),
        usage("b", "GPT-4o-mini-2024-07-18"),
        usage("c", "claude-haiku-4-5-20251001"),
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 3
    refused = report(usage("d", "gpt-4o-mini"), usage("e", "gpt-4o"))
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "model_not_allowed"
    assert "'gpt-4o' is not allowed" in error["message"]
    assert "nothing in this batch was recorded" in error["message"]
    assert error["details"]["request_id"] == "e"
    other = report(usage("f", "mistral-large-latest", "mistral"))
    assert other.json()["error"]["code"] == "model_not_allowed"
    # Nothing of the refused batches counts; each refusal is an unauthorized action.
    assert api.budget(agent["id"])["spent_usd"] == 0.03
    actions = api.client.get(
        f"/api/v1/unauthorized-actions?agent_id={agent['id']}", headers=api.as_("developer")
    ).json()
    assert [(a["kind"], a["role"], a["agent_id"]) for a in actions] == [
        ("model_not_allowed", "agent", agent["id"]),
        ("model_not_allowed", "agent", agent["id"]),
    ]
    assert "'mistral-large-latest'" in actions[0]["detail"] and "'gpt-4o'" in actions[1]["detail"]
    # Replaying the accepted batch is still idempotent; the allowed report of the refused batch
    # counts once it comes alone.
    assert report(usage("d", "gpt-4o-mini")).json()["accepted"] == 1
