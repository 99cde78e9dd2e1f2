"""Server hardening: the signing key (environment, or encrypted and rotated), login limits per
account and address, security headers, CORS, and the master key file."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from iron_cage._exceptions import ConfigError
from iron_cage.control_panel import ControlPanel, create_app, logins
from iron_cage.control_panel.models import JwtKey, LoginAttempts, Setting

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, Api, make_settings

ENV_KEY = "an-operator-chosen-signing-key-0123456789"
LOGIN = "/api/v1/auth/login"


def _login(client: TestClient, password: str = ADMIN_PASSWORD, email: str = ADMIN_EMAIL) -> str:
    r = client.post(LOGIN, json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


# --- the signing key ------------------------------------------------------------------------------
def test_signing_keys_are_encrypted_rotated_and_shared_by_replicas(database_url: str) -> None:
    one = ControlPanel(make_settings(database_url, access_token_ttl_s=2))
    one.bootstrap_admin()
    two = ControlPanel(make_settings(database_url, access_token_ttl_s=2))  # another replica
    try:
        with TestClient(create_app(control_panel=one)) as a, TestClient(create_app(control_panel=two)) as b:
            old = _login(a)
            header = jwt.get_unverified_header(old)
            assert header["alg"] == "HS256" and header["kid"].startswith("k-")
            assert _me(b, old) == 200  # the other replica verifies it
            with one.db.session() as s:
                stored = s.scalars(select(JwtKey)).all()
            secret = one.signing_keys.verifying(header["kid"])
            assert secret is not None and len(stored) == 1 and secret not in stored[0].ciphertext
            rotated = a.post("/api/v1/auth/signing-keys/rotate", headers={"Authorization": f"Bearer {old}"})
            assert rotated.status_code == 200, rotated.text
            body = rotated.json()
            assert body["kid"] != header["kid"] and [k["kid"] for k in body["retired"]] == [header["kid"]]
            new = _login(b)  # replica two signs with the new key at once...
            assert jwt.get_unverified_header(new)["kid"] == body["kid"]
            assert _me(a, new) == 200 and _me(b, old) == 200  # ...and the old token still works
            time.sleep(2.5)  # until it expires
            assert _me(a, old) == 401 and _me(b, old) == 401
            claims = {"sub": "1", "stm": "x", "exp": 2**40, "typ": "access"}
            forged = jwt.encode(claims, "a-guessed-key-of-thirty-two-bytes-or-more", "HS256")
            assert _me(a, forged) == 401
            viewer = a.post(
                "/api/v1/users",
                json={"email": "v@example.com", "name": "V", "role": "viewer", "password": PASSWORD},
                headers={"Authorization": f"Bearer {_login(a)}"},
            )
            assert viewer.status_code == 201
            refused = a.post(
                "/api/v1/auth/signing-keys/rotate",
                headers={"Authorization": f"Bearer {_login(a, PASSWORD, 'v@example.com')}"},
            )
            assert refused.status_code == 403
    finally:
        one.close()
        two.close()


def test_the_plaintext_key_of_earlier_versions_is_encrypted_and_its_tokens_still_verify(
    database_url: str,
) -> None:
    legacy = "legacy-plaintext-signing-key-0123456789abcdef"
    first = ControlPanel(make_settings(database_url))
    first.bootstrap_admin()
    with first.db.session() as s:
        s.execute(text("DELETE FROM jwt_keys"))
        s.add(Setting(key="jwt_signing_key", value=legacy))
    first.close()
    stamp_token = ControlPanel(make_settings(database_url))  # the upgraded server starts
    try:
        with stamp_token.db.session() as s:
            assert s.get(Setting, "jwt_signing_key") is None
            rows = {k.kid: k for k in s.scalars(select(JwtKey))}
            stamp = s.execute(text("SELECT token_stamp FROM users WHERE id = 1")).scalar_one()
        assert rows["legacy"].retired_at is not None and legacy not in rows["legacy"].ciphertext
        before_upgrade = jwt.encode(
            {"sub": "1", "stm": stamp, "exp": int(time.time()) + 60, "typ": "access"}, legacy, "HS256"
        )
        with TestClient(create_app(control_panel=stamp_token)) as client:
            assert _me(client, before_upgrade) == 200
    finally:
        stamp_token.close()


def test_a_signing_key_from_the_environment_signs_and_cannot_be_rotated_here(database_url: str) -> None:
    old_env = "the-previous-operator-signing-key-9876543210"
    with pytest.raises(ConfigError, match="at least 32 characters"):
        ControlPanel(make_settings(database_url, jwt_key="short"))
    panel = ControlPanel(make_settings(database_url, jwt_key=ENV_KEY, jwt_previous_keys=(old_env,)))
    panel.bootstrap_admin()
    try:
        with TestClient(create_app(control_panel=panel)) as client:
            token = _login(client)
            claims = jwt.decode(token, ENV_KEY, algorithms=["HS256"])
            assert claims["sub"] == "1"
            with panel.db.session() as s:
                stamp = s.execute(text("SELECT token_stamp FROM users WHERE id = 1")).scalar_one()
                assert s.scalars(select(JwtKey)).all() == []  # nothing of it in the database
            signed_before = jwt.encode(
                {"sub": "1", "stm": stamp, "exp": int(time.time()) + 60, "typ": "access"},
                old_env,
                "HS256",
                headers={"kid": "env-" + hashlib.sha256(old_env.encode()).hexdigest()[:16]},
            )
            assert _me(client, signed_before) == 200
            r = client.post("/api/v1/auth/signing-keys/rotate", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 409 and r.json()["error"]["code"] == "jwt_key_from_environment"
            assert "IRON_CAGE_JWT_PREVIOUS_KEYS" in r.json()["error"]["message"]
    finally:
        panel.close()


# --- login limits ---------------------------------------------------------------------------------
def test_failures_from_one_address_never_lock_the_account_for_another(api: Api) -> None:
    api.as_("developer")
    app = api.client.app
    attacker = TestClient(app, client=("203.0.113.7", 4444))
    owner = TestClient(app, client=("198.51.100.2", 5555))
    wrong = {"email": "developer@example.com", "password": "guess-guess-guess"}
    right = {"email": "developer@example.com", "password": PASSWORD}
    statuses = [attacker.post(LOGIN, json=wrong).status_code for _ in range(8)]
    assert statuses == [401, 401, 401, 401, 423, 423, 423, 423]
    locked = attacker.post(LOGIN, json=right)  # even the right password, from there
    assert locked.status_code == 423
    details = locked.json()["error"]["details"]
    assert details["attempts_left"] == 0 and details["retry_after_s"] > 800
    assert "other addresses are not affected" in locked.json()["error"]["message"]
    assert owner.post(LOGIN, json=right).status_code == 200  # the owner, elsewhere, logs in


def test_spraying_from_one_address_locks_that_address_out_of_every_account(api: Api) -> None:
    api.as_("developer")
    st = api.cp.settings
    sprayer = TestClient(api.client.app, client=("203.0.113.9", 1))
    for i in range(st.max_failed_logins_per_address):
        r = sprayer.post(LOGIN, json={"email": f"user{i}@example.com", "password": "spray-spray-1"})
        assert r.status_code in (401, 423)
    r = sprayer.post(LOGIN, json={"email": "developer@example.com", "password": PASSWORD})
    assert r.status_code == 423 and r.json()["error"]["details"]["locked"] == "address"
    assert "any accounts" in r.json()["error"]["message"]
    assert (
        TestClient(api.client.app, client=("198.51.100.3", 2))
        .post(LOGIN, json={"email": "developer@example.com", "password": PASSWORD})
        .is_success
    )


def test_a_guess_from_many_addresses_leaves_the_accounts_known_addresses_working(api: Api) -> None:
    api.as_("developer")
    st = api.cp.settings
    app = api.client.app
    right = {"email": "developer@example.com", "password": PASSWORD}
    home = TestClient(app, client=("198.51.100.10", 1))
    assert home.post(LOGIN, json=right).is_success  # an address the account is known from
    n = 0
    while n < st.max_failed_logins_per_account:
        bot = TestClient(app, client=(f"192.0.2.{n // st.max_failed_logins + 1}", 1))
        bot.post(LOGIN, json={"email": "developer@example.com", "password": "guess-guess-1"})
        n += 1
    newcomer = TestClient(app, client=("198.51.100.99", 1)).post(LOGIN, json=right)
    assert newcomer.status_code == 423 and newcomer.json()["error"]["details"]["locked"] == "account"
    assert home.post(LOGIN, json=right).is_success


# --- headers, CORS ----------------------------------------------------------------------------------
def test_every_answer_carries_the_security_headers(api: Api) -> None:
    answers = {
        "api": api.client.get("/api/v1/health"),
        "refused": api.client.get("/api/v1/agents"),
        "missing": api.client.get("/api/v1/nothing-here"),
        "too large": api.client.post(LOGIN, content=b"x" * (api.cp.settings.max_auth_body_bytes + 1)),
        "dashboard": api.client.get("/"),
        "docs": api.client.get("/api/v1/docs"),
    }
    for what, r in answers.items():
        h = r.headers
        assert h["x-content-type-options"] == "nosniff", what
        assert h["referrer-policy"] == "no-referrer" and h["x-frame-options"] == "DENY", what
        assert "frame-ancestors 'none'" in h["content-security-policy"], what
    assert answers["too large"].status_code == 413
    assert answers["api"].headers["cache-control"] == "no-store"
    assert "script-src 'self';" in answers["dashboard"].headers["content-security-policy"]
    # The docs page runs Swagger UI from the dashboard's build: no other origin, no inline script.
    docs_csp = answers["docs"].headers["content-security-policy"]
    assert "https:" not in docs_csp and "script-src 'self';" in docs_csp
    # No CORS by default: a page of another origin gets no permission.
    pre = api.client.options(
        "/api/v1/agents", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_the_configured_origins_only(database_url: str) -> None:
    panel = ControlPanel(make_settings(database_url, cors_origins=("https://ops.example.com",)))
    try:
        with TestClient(create_app(control_panel=panel)) as client:
            ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
            ok = client.options("/api/v1/agents", headers={"Origin": "https://ops.example.com", **ask})
            assert (
                ok.status_code == 200
                and ok.headers["access-control-allow-origin"] == "https://ops.example.com"
            )
            assert "access-control-allow-credentials" not in ok.headers
            other = client.options("/api/v1/agents", headers={"Origin": "https://evil.example", **ask})
            assert "access-control-allow-origin" not in other.headers
    finally:
        panel.close()


# --- the master key file ------------------------------------------------------------------------------
def test_an_auto_written_master_key_file_is_0600_and_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="iron_cage.control_panel")
    db = tmp_path / "cp.db"
    old = os.umask(0)  # even with a permissive umask
    try:
        panel = ControlPanel(make_settings(f"sqlite:///{db}", master_key=None))
    finally:
        os.umask(old)
    panel.close()
    key_file = Path(f"{db}.master-key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    messages = [r.getMessage() for r in caplog.records]
    assert any("generated a master key" in m and "0600" in m for m in messages)
    caplog.clear()
    key_file.chmod(0o644)
    ControlPanel(make_settings(f"sqlite:///{db}", master_key=None)).close()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    messages = [r.getMessage() for r in caplog.records]
    assert any("was readable by others (mode 644)" in m for m in messages)
    assert any("next to the database" in m and "IRON_SECRETS_MASTER_KEY" in m for m in messages)
    assert not any(key_file.read_text().strip() in m for m in messages)


def test_old_login_counts_are_pruned_and_known_addresses_kept(api: Api) -> None:
    api.as_("developer")
    client = TestClient(api.client.app, client=("203.0.113.50", 1))
    assert client.post(LOGIN, json={"email": "developer@example.com", "password": PASSWORD}).is_success
    for i in range(3):
        client.post(LOGIN, json={"email": f"made-up-{i}@example.com", "password": "guess-guess-1"})
    with api.cp.db.session() as s:
        scopes = sorted(r.scope for r in s.scalars(select(LoginAttempts)))
        assert scopes.count("pair") == 3 and "known" in scopes
        assert logins.prune(s, api.cp.settings, datetime.now(timezone.utc)) == 0  # all still current
    later = datetime.now(timezone.utc) + timedelta(seconds=api.cp.settings.lockout_s + 1)
    with api.cp.db.session() as s:
        assert logins.prune(s, api.cp.settings, later) > 0
        assert {r.scope for r in s.scalars(select(LoginAttempts))} == {"known"}  # the logins made
