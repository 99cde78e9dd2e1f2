"""Secrets API: encryption at rest, masking by role, versions, soft delete, append-only audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from iron_cage.control_panel.models import ProviderKey, Secret, SecretAudit

from .conftest import Api, RuntimeKeys

VALUE = "sk-proj-SECRETVALUE0123456789xyz"


def test_values_are_encrypted_at_rest_and_masked_for_readers(api: Api) -> None:
    created = api.client.post(
        "/api/v1/secrets", json={"name": "OPENAI_KEY", "value": VALUE}, headers=api.as_("admin")
    )
    assert created.status_code == 201 and VALUE not in created.text
    sid = created.json()["id"]
    assert created.json()["masked"].startswith("sk-proj-") and "..." in created.json()["masked"]
    with api.cp.db.session() as s:
        row = s.get(Secret, sid)
        assert row is not None and VALUE not in row.ciphertext and "SECRETVALUE" not in row.ciphertext
    for role in ("developer", "viewer"):
        r = api.client.get(f"/api/v1/secrets/{sid}", headers=api.as_(role))
        assert r.status_code == 200 and r.json()["value"] is None and VALUE not in r.text
        assert VALUE not in api.client.get("/api/v1/secrets", headers=api.as_(role)).text
    assert api.client.get(f"/api/v1/secrets/{sid}", headers=api.as_("admin")).json()["value"] == VALUE
    agent = api.agent()
    token = api.ic_token(agent["id"])
    assert api.client.get(f"/api/v1/secrets/{sid}", headers=api.auth(token)).json()["value"] == VALUE


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
    assert api.client.get(f"/api/v1/secrets/{sid}", headers=admin).json()["value"] == "second-value-2"
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
    assert [a["action"] for a in audit] == ["create", "update", "read", "delete", "create"]
    assert all(a["actor"].startswith("user:") for a in audit)
    assert not any("value" in a["detail"] for a in audit)


@pytest.mark.parametrize(
    "statement", ["UPDATE secret_audit SET actor = 'someone else'", "DELETE FROM secret_audit"]
)
def test_the_database_refuses_to_change_the_audit(api: Api, statement: str) -> None:
    api.client.post("/api/v1/secrets", json={"name": "K", "value": "value-1234567"}, headers=api.as_("admin"))
    with pytest.raises(DBAPIError, match="append-only"), api.cp.db.session() as s:
        s.execute(text(statement))
    with api.cp.db.session() as s:
        assert [a.actor for a in s.scalars(select(SecretAudit))] == ["user:1"]


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
        assert s.scalars(select(Secret)).all() == [] and s.scalars(select(SecretAudit)).all() == []


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
