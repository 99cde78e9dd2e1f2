"""Secrets API: encryption at rest, masking by role, reveal, scoping to agents, projects and
environments, versions, soft delete, an append-only audit log of every operation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from iron_cage.control_panel.models import ProviderKey, Secret, SecretAuditLog

from .conftest import Api, RuntimeKeys

VALUE = "sk-proj-SECRETVALUE0123456789xyz"


def test_values_are_encrypted_at_rest_masked_for_people_and_revealed_with_an_audit_row(api: Api) -> None:
    agent = api.agent()
    created = api.client.post(
        "/api/v1/secrets",
        json={"name": "OPENAI_KEY", "value": VALUE, "agent_ids": [agent["id"]]},
        headers=api.as_("admin"),
    )
    assert created.status_code == 201 and VALUE not in created.text
    sid = created.json()["id"]
    assert created.json()["masked"].startswith("sk-proj-") and "..." in created.json()["masked"]
    assert created.json()["agent_ids"] == [agent["id"]]
    with api.cp.db.session() as s:
        row = s.get(Secret, sid)
        assert row is not None and VALUE not in row.ciphertext and "SECRETVALUE" not in row.ciphertext
    for role in ("admin", "developer", "viewer"):
        r = api.client.get(f"/api/v1/secrets/{sid}", headers=api.as_(role))
        assert r.status_code == 200 and r.json()["value"] is None and VALUE not in r.text, role
        assert VALUE not in api.client.get("/api/v1/secrets", headers=api.as_(role)).text
    for role in ("developer", "viewer"):
        refused = api.client.post(f"/api/v1/secrets/{sid}/reveal", headers=api.as_(role))
        assert refused.status_code == 403 and VALUE not in refused.text
    revealed = api.client.post(f"/api/v1/secrets/{sid}/reveal", headers=api.as_("admin"))
    assert revealed.json()["value"] == VALUE
    token = api.ic_token(agent["id"])
    assert api.client.get(f"/api/v1/secrets/{sid}", headers=api.auth(token)).json()["value"] == VALUE
    audit = api.client.get("/api/v1/secrets/audit?secret_name=OPENAI_KEY", headers=api.as_("admin")).json()
    reveals = [a for a in audit if a["operation"] == "reveal"]
    assert [(a["requester_role"], a["success"]) for a in reveals] == [
        ("developer", False),
        ("viewer", False),
        ("admin", True),
    ]
    assert reveals[-1]["user_id"] == 1 and "403 forbidden" in reveals[0]["error_message"]
    agent_read = [a for a in audit if a["requester_role"] == "agent"]
    assert [(a["operation"], a["agent_id"], a["success"]) for a in agent_read] == [
        ("read", agent["id"], True)
    ]
    assert all(VALUE not in str(a) for a in audit)


def test_update_makes_a_new_version_and_delete_is_soft(api: Api) -> None:
    admin = api.as_("admin")
    sid = api.client.post(
        "/api/v1/secrets",
        json={"name": "DB_PASSWORD", "value": "first-value-1", "environment": "staging"},
        headers=admin,
    ).json()["id"]
    dup = api.client.post(
        "/api/v1/secrets",
        json={"name": "DB_PASSWORD", "value": "x" * 10, "environment": "staging"},
        headers=admin,
    )
    assert dup.status_code == 409 and f"/secrets/{sid}" in dup.json()["error"]["message"]
    updated = api.client.put(f"/api/v1/secrets/{sid}", json={"value": "second-value-2"}, headers=admin).json()
    assert updated["version"] == 2
    assert api.client.post(f"/api/v1/secrets/{sid}/reveal", headers=admin).json()["value"] == "second-value-2"
    assert api.client.delete(f"/api/v1/secrets/{sid}", headers=admin).status_code == 204
    assert api.client.get(f"/api/v1/secrets/{sid}", headers=admin).status_code == 404
    assert api.client.get("/api/v1/secrets", headers=admin).json() == []
    listed = api.client.get("/api/v1/secrets?include_deleted=true", headers=admin).json()
    assert [x["deleted"] for x in listed] == [True]
    again = api.client.post(
        "/api/v1/secrets",
        json={"name": "DB_PASSWORD", "value": "third-value-3", "environment": "staging"},
        headers=admin,
    ).json()
    assert again["id"] == sid and again["version"] == 3
    audit = api.client.get("/api/v1/secrets/audit?secret_name=DB_PASSWORD", headers=admin).json()
    assert [(a["operation"], a["success"]) for a in audit] == [
        ("create", True),
        ("create", False),  # the duplicate: refused, and audited with the reason
        ("update", True),
        ("reveal", True),
        ("delete", True),
        ("read", False),  # the deleted secret: 404, audited
        ("create", True),
    ]
    assert "409 conflict" in audit[1]["error_message"] and audit[1]["requester_role"] == "admin"
    assert all(a["user_id"] == 1 and a["agent_id"] is None for a in audit)
    assert not any("value" in a["detail"] for a in audit)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE secret_audit_log SET requester_role = 'viewer'",
        "UPDATE secret_audit_log SET success = false WHERE id = 1",
        "DELETE FROM secret_audit_log",
        "DELETE FROM secret_audit_log WHERE id = 1",
    ],
)
def test_the_database_refuses_to_change_the_audit_log(api: Api, statement: str) -> None:
    api.client.post("/api/v1/secrets", json={"name": "K", "value": "value-1234567"}, headers=api.as_("admin"))
    statements = [statement]
    if api.cp.db.dialect == "postgresql":  # SQLite has no TRUNCATE; PostgreSQL's is refused too
        statements.append("TRUNCATE secret_audit_log")
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"), api.cp.db.session() as s:
            s.execute(text(sql))
    with api.cp.db.session() as s:
        rows = [(a.requester_role, a.operation, a.success) for a in s.scalars(select(SecretAuditLog))]
    assert rows == [("admin", "create", True)]


def test_bad_secret_input_is_refused_and_nothing_is_stored(api: Api) -> None:
    admin = api.as_("admin")
    for body in [
        {"name": "has space", "value": "v"},
        {"name": "OK", "value": ""},
        {"name": "OK", "value": "v", "environment": "prod"},
        {"name": "OK"},
    ]:
        r = api.client.post("/api/v1/secrets", json=body, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["message"].startswith("invalid request"), body
    assert api.client.get("/api/v1/secrets/999", headers=admin).status_code == 404
    with api.cp.db.session() as s:
        assert s.scalars(select(Secret)).all() == []
        # Malformed requests never reach a secret; the 404 is audited, with its reason.
        audit = s.scalars(select(SecretAuditLog))
        rows = [(a.operation, a.secret_id, a.success, a.error_message) for a in audit]
    assert rows == [("read", 999, False, "404 not_found: secret 999 not found")]


def test_provider_keys_are_stored_encrypted_and_the_newest_is_released(api: Api) -> None:
    admin = api.as_("admin")
    old = api.client.post(
        "/api/v1/providers/keys",
        json={"provider": "anthropic", "key": "sk-ant-old-0123456789"},
        headers=admin,
    ).json()
    api.client.post(
        "/api/v1/providers/keys",
        json={
            "provider": "anthropic",
            "key": "sk-ant-new-0123456789",
            "base_url": "https://api.anthropic.com",
        },
        headers=admin,
    )
    with api.cp.db.session() as s:
        assert all("0123456789" not in k.ciphertext for k in s.scalars(select(ProviderKey)))
    agent = api.agent(provider="anthropic")
    token = api.ic_token(agent["id"])
    runtime = RuntimeKeys()

    def released() -> tuple[str, str | None]:
        body = {"ic_token": token, "requested_usd": 1, "key_exchange": runtime.request()}
        lease = api.client.post("/api/v1/budget/handshake", json=body).json()
        return runtime.open(lease["provider_key_sealed"], lease["lease_id"]), lease["provider_base_url"]

    assert released() == ("sk-ant-new-0123456789", "https://api.anthropic.com")
    keys = api.client.get("/api/v1/providers/keys", headers=admin).json()
    assert api.client.delete(f"/api/v1/providers/keys/{keys[-1]['id']}", headers=admin).status_code == 204
    assert released() == ("sk-ant-old-0123456789", None)
    assert old["masked"] != "sk-ant-old-0123456789"


def test_an_ic_token_reads_only_what_is_bound_to_its_agent_in_its_environment(api: Api) -> None:
    admin = api.as_("admin")
    mine = api.agent(project="leads")
    peer = api.agent(project="leads")
    other = api.agent(project="billing")

    def secret(name: str, environment: str = "production", **bind: Any) -> int:
        body = {"name": name, "value": f"{name}-value-123", "environment": environment, **bind}
        r = api.client.post("/api/v1/secrets", json=body, headers=admin)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    own = secret("OWN", agent_ids=[mine["id"]])
    project = secret("PROJECT", projects=["leads"])
    staging = secret("OWN", "staging", agent_ids=[mine["id"]])
    theirs = secret("THEIRS", agent_ids=[other["id"]])
    unbound = secret("NOBODY")
    prod = api.ic_token(mine["id"])
    r = api.client.post(f"/api/v1/agents/{mine['id']}/tokens", json={"environment": "staging"}, headers=admin)
    stage = r.json()["token"]
    assert r.json()["info"]["environment"] == "staging"

    def names(token: str) -> list[tuple[str, str]]:
        listed = api.client.get("/api/v1/secrets", headers=api.auth(token)).json()
        return [(x["name"], x["environment"]) for x in listed]

    assert names(prod) == [("OWN", "production"), ("PROJECT", "production")]
    assert names(stage) == [("OWN", "staging")]
    assert names(api.ic_token(peer["id"])) == [("PROJECT", "production")]
    readable = {
        prod: {own: "OWN-value-123", project: "PROJECT-value-123"},
        stage: {staging: "OWN-value-123"},
    }
    for token, allowed in readable.items():
        for sid in (own, project, staging, theirs, unbound, 999):
            r = api.client.get(f"/api/v1/secrets/{sid}", headers=api.auth(token))
            if sid in allowed:
                assert r.status_code == 200 and r.json()["value"] == allowed[sid]
            else:  # another agent's, another environment's, unbound or missing: all the same 404
                assert r.status_code == 404, (sid, r.text)
                assert r.json()["error"] == {
                    "code": "not_found",
                    "message": f"secret {sid} not found",
                    "details": {},
                }
    # Rebinding takes effect at once.
    api.client.put(f"/api/v1/secrets/{theirs}", json={"agent_ids": [mine["id"], other["id"]]}, headers=admin)
    mine_now = api.client.get(f"/api/v1/secrets/{theirs}", headers=api.auth(prod)).json()
    assert mine_now["value"] == "THEIRS-value-123" and mine_now["agent_ids"] == [mine["id"]]
    missing = api.client.put(f"/api/v1/secrets/{own}", json={"agent_ids": [424242]}, headers=admin)
    assert missing.status_code == 400 and "no agent 424242" in missing.json()["error"]["message"]
