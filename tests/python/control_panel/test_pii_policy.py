"""PII policies for what requests send, per developer and per agent: per entity the stricter of
both in every lease answer's limits (``pii_egress``), validated on the way in."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def test_the_lease_carries_the_stricter_of_both_policies(api: Api) -> None:
    admin = api.as_("admin")
    dev = api.user_id("developer")
    agent = api.agent()
    token = api.ic_token(agent["id"])

    def floor() -> Any:
        r = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": "0.1"})
        assert r.status_code == 201, r.text
        lease = r.json()
        polled = api.client.get(f"/api/v1/budget/leases/{lease['lease_id']}", headers=api.auth(token))
        assert (
            polled.status_code == 200
            and polled.json()["limits"]["pii_egress"] == lease["limits"]["pii_egress"]
        )
        return lease["limits"]["pii_egress"]

    assert floor() is None
    r = api.client.put(
        f"/api/v1/users/{dev}/pii-policy",
        json={"egress": {"phone": "warn", "Default": "redact"}},
        headers=admin,
    )
    assert r.status_code == 200 and r.json() == {
        "egress": {"PHONE": "warn", "default": "redact"},
        "ingress": None,
    }
    assert floor() == {"PHONE": "warn", "default": "redact"}
    r = api.client.put(
        f"/api/v1/agents/{agent['id']}/pii-policy",
        json={"egress": {"EMAIL": "block", "PHONE": "pseudonymize"}},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    # EMAIL: block over the developer's default (redact); PHONE: pseudonymize over warn.
    both = {"EMAIL": "block", "PHONE": "pseudonymize", "default": "redact"}
    assert floor() == both
    shown = api.client.get(f"/api/v1/agents/{agent['id']}/pii-policy", headers=api.as_("developer")).json()
    assert shown["agent"]["egress"] == {"EMAIL": "block", "PHONE": "pseudonymize"}
    assert shown["developer"]["egress"] == {"PHONE": "warn", "default": "redact"}
    assert shown["effective"]["egress"] == both
    # Cleared: the agent's alone, then none.
    api.client.put(f"/api/v1/users/{dev}/pii-policy", json={"egress": None}, headers=admin)
    assert floor() == {"EMAIL": "block", "PHONE": "pseudonymize"}
    api.client.put(f"/api/v1/agents/{agent['id']}/pii-policy", json={"egress": {}}, headers=admin)
    assert floor() is None


def test_a_policy_names_known_actions_and_entity_names(api: Api) -> None:
    admin = api.as_("admin")
    agent = api.agent()
    url = f"/api/v1/agents/{agent['id']}/pii-policy"
    for bad in ({"EMAIL": "shred"}, {"e-mail": "block"}, {"EMAIL": None}, ["EMAIL"]):
        r = api.client.put(url, json={"egress": bad}, headers=admin)
        assert r.status_code == 422, (bad, r.text)
    assert api.client.get(url, headers=admin).json()["agent"]["egress"] is None
    r = api.client.put(url, json={"egress": {"API_KEY": "block"}}, headers=api.as_("developer"))
    assert r.status_code == 403
    assert api.client.put("/api/v1/agents/999999/pii-policy", json={}, headers=admin).status_code == 404


def test_a_reply_policy_travels_beside_the_request_policy(api: Api) -> None:
    admin = api.as_("admin")
    dev = api.user_id("developer")
    agent = api.agent()
    token = api.ic_token(agent["id"])
    url = f"/api/v1/agents/{agent['id']}/pii-policy"
    r = api.client.put(url, json={"ingress": {"EMAIL": "pseudonymize"}}, headers=admin)
    assert r.status_code == 422  # nothing would restore a reply's values
    api.client.put(f"/api/v1/users/{dev}/pii-policy", json={"ingress": {"default": "warn"}}, headers=admin)
    r = api.client.put(
        url, json={"egress": {"EMAIL": "redact"}, "ingress": {"API_KEY": "block"}}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["effective"] == {
        "egress": {"EMAIL": "redact"},
        "ingress": {"API_KEY": "block", "default": "warn"},
    }
    lease = api.client.post(
        "/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": "0.1"}
    ).json()
    assert lease["limits"]["pii_ingress"] == {"API_KEY": "block", "default": "warn"}
    assert lease["limits"]["pii_egress"] == {"EMAIL": "redact"}
