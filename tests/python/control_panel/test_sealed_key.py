"""The provider key leaves the server only sealed to the runtime's X25519 key, for one lease:
opened here with ``cryptography`` exactly as docs/protocol.md says (the Rust side does the same)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from .conftest import Api, RuntimeKeys, b64url

KEY = "sk-proj-sealed-provider-key-0123456789"
NEW_KEY = "sk-proj-rotated-provider-key-9876543210"
SCHEME = "x25519-hkdf-sha256-aes256gcm"


def with_key(api: Api, key: str = KEY, base_url: str = "https://api.openai.com/v1") -> None:
    r = api.client.post(
        "/api/v1/providers/keys",
        json={"provider": "openai", "key": key, "base_url": base_url},
        headers=api.as_("admin"),
    )
    assert r.status_code == 201, r.text


def handshake(api: Api, token: str, keys: RuntimeKeys | None, usd: float = 1) -> Any:
    body: dict[str, Any] = {"requested_usd": usd}
    if keys is not None:
        body["key_exchange"] = keys.request()
    return api.client.post("/api/v1/budget/handshake", json=body, headers=api.auth(token))


def test_the_handshake_seals_the_key_to_the_runtime_and_nothing_else_opens_it(api: Api) -> None:
    with_key(api)
    agent = api.agent()
    token = api.ic_token(agent["id"])
    keys = RuntimeKeys()
    r = handshake(api, token, keys)
    assert r.status_code == 201, r.text
    lease = r.json()
    assert "provider_key" not in lease and KEY not in r.text
    sealed = lease["provider_key_sealed"]
    assert set(sealed) == {"scheme", "ephemeral_public_key", "nonce", "ciphertext"}
    assert sealed["scheme"] == "x25519-hkdf-sha256-aes256gcm"
    assert "=" not in "".join(sealed.values())  # base64url without padding
    assert keys.open(sealed, lease["lease_id"]) == KEY
    assert lease["provider_base_url"] == "https://api.openai.com/v1"
    # Another runtime's key pair cannot open it.
    with pytest.raises(InvalidTag):
        RuntimeKeys().open(sealed, lease["lease_id"])
    # A second answer uses a fresh server key pair and nonce.
    again = handshake(api, token, keys).json()["provider_key_sealed"]
    assert again["ephemeral_public_key"] != sealed["ephemeral_public_key"]
    assert again["nonce"] != sealed["nonce"]


def test_the_associated_data_binds_the_sealed_key_to_its_lease(api: Api) -> None:
    with_key(api)
    agent = api.agent()
    token = api.ic_token(agent["id"])
    keys = RuntimeKeys()
    first = handshake(api, token, keys).json()
    second = handshake(api, token, keys).json()
    assert keys.open(second["provider_key_sealed"], second["lease_id"]) == KEY
    for wrong in (second["lease_id"], first["lease_id"] + "x", ""):
        with pytest.raises(InvalidTag):
            keys.open(first["provider_key_sealed"], wrong)


def test_a_runtime_without_key_exchange_is_told_to_upgrade_and_gets_nothing(api: Api) -> None:
    with_key(api)
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    r = handshake(api, token, None)
    assert r.status_code == 400 and KEY not in r.text
    error = r.json()["error"]
    assert error["code"] == "key_exchange_required"
    assert "upgrade iron-cage" in error["message"] and "key_exchange" in error["message"]
    assert api.budget(agent["id"])["leased_usd"] == 0  # nothing was leased
    lease = handshake(api, token, RuntimeKeys()).json()
    refresh = api.client.post(
        "/api/v1/budget/refresh",
        json={"lease_id": lease["lease_id"], "requested_usd": 1},
        headers=api.auth(token),
    )
    assert refresh.status_code == 400 and refresh.json()["error"]["code"] == "key_exchange_required"
    assert api.budget(agent["id"])["leased_usd"] == 1  # the refresh granted nothing
    # Every release of the key, and every refusal, is in the secrets audit log.
    audit = api.client.get("/api/v1/secrets/audit?secret_name=provider:openai", headers=api.as_("admin"))
    seals = [(a["operation"], a["agent_id"], a["success"]) for a in audit.json() if a["operation"] == "seal"]
    assert seals == [("seal", agent["id"], False), ("seal", agent["id"], True), ("seal", agent["id"], False)]
    assert all("key_exchange_required" in a["error_message"] for a in audit.json() if not a["success"])
    assert KEY not in audit.text


def test_an_agent_without_a_provider_key_needs_no_key_exchange(api: Api) -> None:
    agent = api.agent()
    token = api.ic_token(agent["id"])
    for keys in (None, RuntimeKeys()):
        r = handshake(api, token, keys)
        assert r.status_code == 201, r.text
        assert r.json()["provider_key_sealed"] is None and r.json()["provider_base_url"] is None


def test_a_key_rotated_in_the_vault_reaches_the_runtime_at_its_next_refresh(api: Api) -> None:
    with_key(api)
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    keys = RuntimeKeys()
    lease = handshake(api, token, keys).json()
    assert keys.open(lease["provider_key_sealed"], lease["lease_id"]) == KEY
    with_key(api, NEW_KEY)  # the newest key of the provider is the one runtimes get
    fresh = RuntimeKeys()  # each refresh sends a fresh key pair
    r = api.client.post(
        "/api/v1/budget/refresh",
        json={"lease_id": lease["lease_id"], "requested_usd": 1, "key_exchange": fresh.request()},
        headers=api.auth(token),
    )
    assert r.status_code == 200, r.text
    assert NEW_KEY not in r.text and KEY not in r.text
    assert fresh.open(r.json()["provider_key_sealed"], lease["lease_id"]) == NEW_KEY
    # A status poll of the lease carries no key at all, sealed or not.
    status = api.client.get(f"/api/v1/budget/leases/{lease['lease_id']}", headers=api.auth(token))
    assert "provider_key_sealed" not in status.json() and "provider_key" not in status.json()


@pytest.mark.parametrize(
    ("exchange", "status", "code", "says"),
    [
        ({"scheme": SCHEME, "public_key": b64url(b"\x09" * 31)}, 422, None, "32 bytes"),
        ({"scheme": SCHEME, "public_key": "not base64!"}, 422, None, "base64url"),
        ({"scheme": "rsa-oaep", "public_key": b64url(b"\x09" * 32)}, 422, None, "scheme"),
        ({"scheme": SCHEME}, 422, None, "public_key"),
        (
            {"scheme": SCHEME, "public_key": b64url(bytes(32))},
            400,
            "invalid_key_exchange",
            "low-order",
        ),
    ],
)
def test_an_unusable_public_key_is_refused_with_the_reason(
    api: Api, exchange: dict[str, str], status: int, code: str | None, says: str
) -> None:
    with_key(api)
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    r = api.client.post(
        "/api/v1/budget/handshake",
        json={"requested_usd": 1, "key_exchange": exchange},
        headers=api.auth(token),
    )
    assert r.status_code == status, r.text
    assert says in r.json()["error"]["message"] and KEY not in r.text
    if code is not None:
        assert r.json()["error"]["code"] == code
    assert api.budget(agent["id"])["leased_usd"] == 0
