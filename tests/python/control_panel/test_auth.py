"""Login, lockout, refresh rotation with reuse detection, logout, suspension, bootstrap."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from iron_cage.control_panel import ControlPanel, Settings
from iron_cage.control_panel.models import RefreshToken, User
from iron_cage.control_panel.security import hash_password, verify_password

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, Api, make_settings


def test_login_returns_a_working_access_token_and_wrong_passwords_fail(api: Api) -> None:
    pair = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert pair["token_type"] == "bearer" and pair["user"]["role"] == "admin"
    me = api.client.get("/api/v1/users/me", headers=api.auth(pair["access_token"]))
    assert me.json()["email"] == ADMIN_EMAIL
    for email, password in [(ADMIN_EMAIL, "wrong-password"), ("nobody@example.com", ADMIN_PASSWORD)]:
        r = api.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 401
        # The same for unknown users (they are counted alike, so nothing tells them apart).
        assert r.json()["error"]["message"] == (
            "wrong email or password (4 attempts left from this address before a 15-minute lock)"
        )
        assert r.json()["error"]["details"] == {"attempts_left": 4}
    r = api.client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD})
    assert r.status_code == 200  # emails are case-insensitive


def test_repeated_failures_lock_the_account_for_that_address_until_an_admin_unlocks_it(api: Api) -> None:
    api.as_("developer")
    wrong = {"email": "developer@example.com", "password": "nope"}
    for left in range(api.cp.settings.max_failed_logins - 1, 0, -1):
        r = api.client.post("/api/v1/auth/login", json=wrong)
        assert r.status_code == 401 and r.json()["error"]["details"]["attempts_left"] == left
    last = api.client.post("/api/v1/auth/login", json=wrong)
    assert last.status_code == 423 and "that was the last attempt" in last.json()["error"]["message"]
    r = api.client.post("/api/v1/auth/login", json={"email": "developer@example.com", "password": PASSWORD})
    assert r.status_code == 423
    error = r.json()["error"]
    assert "try again in" in error["message"] and "other addresses are not affected" in error["message"]
    assert 890 <= error["details"]["retry_after_s"] <= 901 and error["details"]["attempts_left"] == 0
    # An admin can unlock it.
    uid = api.user_id("developer")
    assert api.client.post(f"/api/v1/users/{uid}/activate", headers=api.as_("admin")).status_code == 200
    assert (
        api.client.post(
            "/api/v1/auth/login", json={"email": "developer@example.com", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    first = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    second = api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api.client.get("/api/v1/users/me", headers=api.auth(second["access_token"])).status_code == 200
    # Replaying the rotated token (a stolen copy) kills the whole family, including `second`.
    replay = api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    after = api.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    with api.cp.db.session() as s:
        hashes = list(s.scalars(select(RefreshToken.token_hash)))
    assert first["refresh_token"] not in hashes and len(hashes[0]) == 64  # stored hashed only


def test_logout_revokes_the_refresh_token(api: Api) -> None:
    pair = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    r = api.client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": pair["refresh_token"]},
        headers=api.auth(pair["access_token"]),
    )
    assert r.status_code == 204
    again = api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401


def test_suspension_ends_access_at_once_and_last_admin_is_protected(api: Api) -> None:
    headers = api.as_("developer")
    uid = api.user_id("developer")
    assert api.client.post(f"/api/v1/users/{uid}/suspend", headers=api.as_("admin")).status_code == 200
    assert api.client.get("/api/v1/users/me", headers=headers).status_code == 401
    r = api.client.post("/api/v1/auth/login", json={"email": "developer@example.com", "password": PASSWORD})
    assert r.status_code == 401 and "suspended" in r.json()["error"]["message"]
    admin_id = api.user_id("admin")
    for path in (f"/api/v1/users/{admin_id}/suspend",):
        assert api.client.post(path, headers=api.as_("admin")).status_code == 409
    assert (
        api.client.patch(
            f"/api/v1/users/{admin_id}", json={"role": "viewer"}, headers=api.as_("admin")
        ).status_code
        == 409
    )


def test_tampered_or_foreign_tokens_are_rejected(api: Api) -> None:
    good = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"]
    head, body, _sig = good.split(".")
    for bad in [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        f"{head}.{body}.",
        "garbage",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    ]:
        r = api.client.get("/api/v1/users/me", headers=api.auth(bad))
        assert r.status_code == 401, bad
        assert r.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/api/v1/users/me").status_code == 401


def test_passwords_use_bcrypt_cost_12_by_default(database_url: str) -> None:
    assert Settings(database_url=database_url).bcrypt_rounds == 12
    settings = make_settings(database_url, bcrypt_rounds=12)
    hashed = hash_password("a-long-password-1", settings.bcrypt_rounds)
    assert hashed.startswith("$2b$12$")
    assert verify_password("a-long-password-1", hashed, 12)
    assert not verify_password("a-long-password-2", hashed, 12)


def test_first_run_creates_the_admin_or_prints_a_one_time_password(database_url: str) -> None:
    cp = ControlPanel(make_settings(database_url, admin_email=None, admin_password=None))
    try:
        password = cp.bootstrap_admin()
        assert password is not None and len(password) >= 20
        assert cp.bootstrap_admin() is None  # only once
        with cp.db.session() as s:
            admin = s.scalar(select(User))
            assert admin is not None and admin.email == "admin@localhost" and admin.role == "admin"
            assert password not in admin.password_hash
            assert verify_password(password, admin.password_hash, cp.settings.bcrypt_rounds)
    finally:
        cp.close()


@pytest.mark.parametrize("password", ["short", "x" * 73])
def test_weak_or_overlong_passwords_are_refused(api: Api, password: str) -> None:
    r = api.client.post(
        "/api/v1/users",
        json={"email": "p@example.com", "name": "P", "password": password},
        headers=api.as_("admin"),
    )
    assert r.status_code == 400 and "password" in r.json()["error"]["message"]
    assert api.client.get("/api/v1/users", headers=api.as_("admin")).json()[-1]["email"] != "p@example.com"


def _user(api: Api, email: str, role: str = "developer") -> int:
    r = api.client.post(
        "/api/v1/users",
        json={"email": email, "name": email.split("@")[0], "role": role, "password": PASSWORD},
        headers=api.as_("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["user"]["id"])


def test_a_deleted_users_token_never_acts_as_the_next_user(api: Api) -> None:
    a = _user(api, "a@example.com")
    token_a = api.auth(api.login("a@example.com", PASSWORD)["access_token"])
    assert api.client.get("/api/v1/users/me", headers=token_a).json()["id"] == a
    assert api.client.delete(f"/api/v1/users/{a}", headers=api.as_("admin")).status_code == 204
    b = _user(api, "b@example.com", role="admin")
    assert b != a  # ids are never reused, on SQLite too
    for path in ("/api/v1/users/me", "/api/v1/users"):
        r = api.client.get(path, headers=token_a)
        assert r.status_code == 401, r.text
    # A row that does get A's id (a database from before ids were kept unique): the token's
    # stamp is not the new user's, so it is still refused.
    with api.cp.db.session() as s:
        s.add(User(id=a, email="c@example.com", name="C", role="admin", password_hash="x"))
    r = api.client.get("/api/v1/users", headers=token_a)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == (
        "access token no longer valid: the account's password, role or status changed "
        "after it was issued; log in again"
    )


def test_access_tokens_end_with_suspension_role_change_and_password_change(api: Api) -> None:
    admin = api.as_("admin")
    uid = _user(api, "d@example.com")

    def token() -> dict[str, str]:
        return api.auth(api.login("d@example.com", PASSWORD)["access_token"])

    def refused(headers: dict[str, str]) -> None:
        r = api.client.get("/api/v1/agents", headers=headers)
        assert r.status_code == 401, r.text
        assert "log in again" in r.json()["error"]["message"]

    before = token()
    api.client.post(f"/api/v1/users/{uid}/suspend", headers=admin)
    assert api.client.post(f"/api/v1/users/{uid}/activate", headers=admin).status_code == 200
    refused(before)  # activation does not bring back tokens issued before the suspension

    before = token()
    assert api.client.patch(f"/api/v1/users/{uid}", json={"name": "D"}, headers=admin).status_code == 200
    assert api.client.get("/api/v1/agents", headers=before).status_code == 200  # a rename ends nothing
    r = api.client.patch(f"/api/v1/users/{uid}", json={"role": "viewer"}, headers=admin)
    assert r.status_code == 200
    refused(before)  # not a developer's token acting as a viewer

    before = token()
    r = api.client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a-new-password-2"},
        headers=before,
    )
    assert r.status_code == 204
    refused(before)
    again = api.auth(api.login("d@example.com", "a-new-password-2")["access_token"])
    assert api.client.post(f"/api/v1/users/{uid}/reset-password", headers=admin).status_code == 200
    refused(again)
