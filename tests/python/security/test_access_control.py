"""Access control, end to end, on SQLite and PostgreSQL: who reads which secret, what one
developer sees of another's, what revoked, expired, rotated and replayed credentials get, what a
disallowed model's report gets, oversized bodies, path traversal on the dashboard's files,
injection strings in every text field, and every endpoint tried with a developer's token and an
agent's: the provider key never comes back in the clear, nor in a log line or an event."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from control_panel.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, RuntimeKeys, make_settings
from iron_cage.control_panel import ControlPanel, create_app
from iron_cage.control_panel.embedded import EmbeddedControlPanel
from iron_cage.control_panel.models import ProviderKey, SecretAuditLog, User

from .conftest import CANARY, World

_n = itertools.count()


def spec(w: World) -> dict[str, Any]:
    out: dict[str, Any] = w.api.client.get("/api/v1/openapi.json").json()
    return out


def operations(w: World) -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, ops in spec(w)["paths"].items() for m in ops]


def _admin_post(w: World, path: str, body: dict[str, Any]) -> Any:
    r = w.api.client.post(path, json=body, headers=w.admin())
    assert r.status_code in (200, 201), r.text
    return r.json()


def fresh_lease(w: World) -> str:
    r = w.api.client.post(
        "/api/v1/budget/handshake",
        json={"requested_usd": 1, "key_exchange": RuntimeKeys().request()},
        headers=w.agent(w.mine_token),
    )
    assert r.status_code == 201, r.text
    lease_id: str = r.json()["lease_id"]
    return lease_id


def params(w: World, method: str, path: str) -> dict[str, str]:
    """Path parameters naming the developer's own objects (a fresh one where the call changes it)."""
    agent = w.peer if path.endswith(("/stop", "/resume")) else w.mine
    values: dict[str, Any] = {
        "user_id": w.dev_id,
        "agent_id": agent["id"],
        "secret_id": w.secrets["MINE"],
        "lease_id": w.lease["lease_id"],
    }
    if "{token_id}" in path:
        values["token_id"] = _admin_post(w, f"/api/v1/agents/{w.mine['id']}/tokens", {"name": "x"})["info"][
            "id"
        ]
    if "{request_id}" in path:
        values["request_id"] = _admin_post(
            w, "/api/v1/budget/requests", {"agent_id": w.mine["id"], "amount_usd": 1}
        )["id"]
    if "{team_id}" in path:
        values["team_id"] = _admin_post(w, "/api/v1/teams", {"name": f"team-{next(_n)}"})["id"]
    if "{pool_id}" in path:
        r = w.api.client.put(f"/api/v1/users/{w.dev_id}/budget", json={"limit_usd": 500}, headers=w.admin())
        values["pool_id"] = r.json()["id"]
    if "{limit_id}" in path:
        values["limit_id"] = _limit(w)
    if "{channel_id}" in path:
        values["channel_id"] = _admin_post(
            w, "/api/v1/alerts/channels", {"kind": "email", "target": "a@b.c"}
        )["id"]
    if "{trace_id}" in path:
        values["trace_id"] = _trace(w)
    if "{key_id}" in path:
        with w.api.cp.db.session() as s:
            values["key_id"] = s.scalar(select(ProviderKey.id))
    return {k: str(v) for k, v in values.items()}


def _trace(w: World) -> int:
    """A call of the developer's agent, reported on its lease as its runtime would."""
    rid = f"sec-{next(_n)}"
    r = w.api.client.post(
        "/api/v1/budget/report",
        json={
            "lease_id": w.lease["lease_id"],
            "reports": [{"request_id": rid, "model": "gpt-4o", "cost_usd": 0.001}],
        },
        headers=w.agent(w.mine_token),
    )
    assert r.status_code == 200, r.text
    calls = w.api.client.get(f"/api/v1/traces?agent_id={w.mine['id']}&limit=1000", headers=w.admin()).json()
    return int(next(c["id"] for c in calls if c["request_id"] == rid))


def _limit(w: World) -> int:
    r = w.api.client.get(f"/api/v1/limits?agent_id={w.mine['id']}", headers=w.admin()).json()
    if r:
        return int(r[0]["id"])
    return int(
        _admin_post(
            w, "/api/v1/limits", {"kind": "max_tokens_per_request", "value": 9e5, "agent_id": w.mine["id"]}
        )["id"]
    )


def body(w: World, method: str, path: str) -> dict[str, Any] | None:
    """A valid body for every operation that takes one (a test checks the list is complete)."""
    usage = {
        "request_id": f"r-{next(_n)}",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "cost_usd": "0.0001",
        "pii": [{"entity": "EMAIL", "severity": "high", "start": 1, "end": 9, "value_hmac": "ab" * 32}],
    }
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/auth/login"): {"email": "developer@example.com", "password": "not-the-password"},
        ("POST", "/api/v1/auth/refresh"): {"refresh_token": "rt_unknown"},
        ("POST", "/api/v1/auth/logout"): {"refresh_token": "rt_unknown"},
        ("POST", "/api/v1/users/me/password"): {"current_password": "wrong", "new_password": "x" * 20},
        ("POST", "/api/v1/users"): {"email": f"n{next(_n)}@example.com", "name": "New user"},
        ("PATCH", "/api/v1/users/{user_id}"): {"name": "Renamed"},
        ("POST", "/api/v1/agents"): {"name": f"agent-{next(_n)}", "project": "leads", "provider": "openai"},
        ("PATCH", "/api/v1/agents/{agent_id}"): {"name": "renamed", "project": "leads"},
        ("PUT", "/api/v1/agents/{agent_id}/budget"): {"limit_usd": 100},
        ("POST", "/api/v1/agents/{agent_id}/tokens"): {"name": "t", "environment": "production"},
        ("POST", "/api/v1/runtime/process"): {
            "local_id": "lg-7a3f9c2d",
            "state": "running",
            "reason": "started",
            "event": "agent_started",
        },
        ("POST", "/api/v1/runtime/metrics"): {"unit": "leads", "done": 1},
        ("POST", "/api/v1/budget/handshake"): {
            "requested_usd": "0.01",
            "runtime": "security-suite",
            "key_exchange": RuntimeKeys().request(),
        },
        ("POST", "/api/v1/budget/report"): {"lease_id": w.lease["lease_id"], "reports": [usage]},
        ("POST", "/api/v1/budget/refresh"): {
            "lease_id": w.lease["lease_id"],
            "requested_usd": "0.01",
            "key_exchange": RuntimeKeys().request(),
        },
        ("POST", "/api/v1/budget/return"): {"lease_id": "lse_someone-elses"},
        ("POST", "/api/v1/budget/requests"): {"agent_id": w.mine["id"], "amount_usd": 1, "reason": "more"},
        ("PUT", "/api/v1/users/{user_id}/budget"): {"limit_usd": 500},
        ("PUT", "/api/v1/teams/{team_id}/budget"): {"limit_usd": 5},
        ("POST", "/api/v1/teams"): {"name": f"team-{next(_n)}"},
        ("PUT", "/api/v1/users/{user_id}/model-policy"): {"allowed_models": None, "allowed_providers": None},
        ("PUT", "/api/v1/agents/{agent_id}/model-policy"): {
            "allowed_models": None,
            "allowed_providers": None,
        },
        ("POST", "/api/v1/alerts/channels"): {"kind": "webhook", "target": "http://127.0.0.1:9/hook"},
        ("POST", "/api/v1/limits"): {"kind": "daily_usd", "value": 1000, "agent_id": w.peer["id"]},
        ("PATCH", "/api/v1/limits/{limit_id}"): {"value": 900000},
        ("PUT", "/api/v1/limits/{limit_id}"): {"value": 800000},
        ("PUT", "/api/v1/users/{user_id}/pii-policy"): {"egress": {"API_KEY": "block"}, "ingress": None},
        ("PUT", "/api/v1/agents/{agent_id}/pii-policy"): {"egress": None, "ingress": {"EMAIL": "redact"}},
        ("POST", "/api/v1/providers/keys"): {
            "provider": "mistral",
            "key": "mk-0123456789abcdef",
            "label": "m",
        },
        ("POST", "/api/v1/secrets"): {
            "name": f"S{next(_n)}",
            "value": "a-value-1234",
            "description": "d",
            "projects": ["leads"],
        },
        ("PUT", "/api/v1/secrets/{secret_id}"): {"description": "described"},
    }
    return bodies.get((method, path))


def call(w: World, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    url = path.format(**params(w, method, path))
    return w.api.client.request(method, url, headers=headers, **kw)


def assert_no_key_anywhere(w: World, caplog: pytest.LogCaptureFixture, seen: list[str]) -> None:
    assert not [x for x in seen if CANARY in x], "an answer holds the provider key"
    assert not [r for r in caplog.records if CANARY in r.getMessage()], "a log line holds it"
    assert not [e for e in w.events if CANARY in str(e)], "an event holds it"
    with w.api.cp.db.session() as s:
        assert all(CANARY not in k.ciphertext for k in s.scalars(select(ProviderKey)))
        assert not [a for a in s.scalars(select(SecretAuditLog)) if CANARY in str(vars(a))]


# --- the provider key -----------------------------------------------------------------------------
def test_every_endpoint_with_a_developer_or_agent_token_never_returns_the_provider_key(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    seen: list[str] = []
    tokens = {
        "developer": w.dev,
        "agent": w.agent(w.mine_token),
        "staging agent": w.agent(w.mine_staging_token),
        "viewer": w.api.as_("viewer"),
        "super_user": w.api.as_("super_user"),
        "anonymous": {},
    }
    statuses: dict[str, set[int]] = {}
    for method, path in operations(w):
        for who, headers in tokens.items():
            r = call(w, method, path, headers, json=body(w, method, path))
            assert r.status_code < 500, f"{method} {path} as {who}: {r.status_code} {r.text[:300]}"
            seen += [r.text, str(r.headers)]
            statuses.setdefault(who, set()).add(r.status_code)
    for method, path in operations(w):  # admins too, for every read
        if method == "GET":
            r = call(w, method, path, w.admin())
            seen += [r.text, str(r.headers)]
    # The runtime's own key exchange is the only way out: sealed, for its lease.
    keys = RuntimeKeys()
    refreshed = w.api.client.post(
        "/api/v1/budget/refresh",
        json={"lease_id": w.lease["lease_id"], "requested_usd": 1, "key_exchange": keys.request()},
        headers=w.agent(w.mine_token),
    )
    seen.append(refreshed.text)
    assert keys.open(refreshed.json()["provider_key_sealed"], w.lease["lease_id"]) == CANARY
    assert {200, 201} & statuses["developer"] and {200, 201} & statuses["agent"]  # the sweep did reach
    assert_no_key_anywhere(w, caplog, seen)


# --- secrets -------------------------------------------------------------------------------------------
def test_cross_agent_and_cross_environment_secret_reads_are_404(world: World) -> None:
    w = world
    own, staging, project = w.secrets["MINE"], w.secrets["MINE_STAGING"], w.secrets["LEADS"]
    expected = {
        w.mine_token: {own, project},
        w.mine_staging_token: {staging},
        w.theirs_token: {w.secrets["THEIRS"]},
    }
    for token, readable in expected.items():
        listed = {x["id"] for x in w.api.client.get("/api/v1/secrets", headers=w.agent(token)).json()}
        assert listed == readable
        for sid in [*w.secrets.values(), 424242]:
            r = w.api.client.get(f"/api/v1/secrets/{sid}", headers=w.agent(token))
            if sid in readable:
                assert r.status_code == 200 and r.json()["value"].startswith("value-of-")
            else:
                assert r.status_code == 404 and r.json()["error"]["message"] == f"secret {sid} not found"
            for write in (
                w.api.client.put(f"/api/v1/secrets/{sid}", json={"value": "x" * 12}, headers=w.agent(token)),
                w.api.client.post(f"/api/v1/secrets/{sid}/reveal", headers=w.agent(token)),
                w.api.client.delete(f"/api/v1/secrets/{sid}", headers=w.agent(token)),
            ):
                assert write.status_code == 403  # agents never change or reveal secrets
    # A peer of the same project reads the project's secret only.
    peer = _admin_post(w, f"/api/v1/agents/{w.peer['id']}/tokens", {})["token"]
    assert {x["id"] for x in w.api.client.get("/api/v1/secrets", headers=w.agent(peer)).json()} == {project}
    # Every refusal is in the audit log with its reason; the answers never told.
    audit = w.api.client.get("/api/v1/secrets/audit?secret_name=THEIRS", headers=w.admin()).json()
    mine = [a for a in audit if not a["success"] and a["agent_id"] == w.mine["id"]]
    reads = [a["error_message"] for a in mine if a["operation"] == "read"]
    assert reads and all(f"not bound to agent {w.mine['id']}" in m for m in reads)
    writes = [a["error_message"] for a in mine if a["operation"] in ("update", "reveal", "delete")]
    assert len(writes) == 6 and all("403 forbidden" in m for m in writes)


def test_a_developer_never_reads_another_developers_data(world: World) -> None:
    w = world
    theirs = w.theirs["id"]
    theirs_lease = w.api.client.post(
        "/api/v1/budget/handshake",
        json={"requested_usd": 1, "key_exchange": RuntimeKeys().request()},
        headers=w.agent(w.theirs_token),
    ).json()["lease_id"]
    report = {"request_id": "theirs-1", "model": "gpt-4o-mini", "cost_usd": "0.5"}
    w.api.client.post(
        "/api/v1/budget/report",
        json={"lease_id": theirs_lease, "reports": [report]},
        headers=w.agent(w.theirs_token),
    )
    refused: list[tuple[Any, ...]] = [
        ("GET", f"/api/v1/agents/{theirs}"),
        ("GET", f"/api/v1/agents/{theirs}/budget"),
        ("GET", f"/api/v1/agents/{theirs}/tokens"),
        ("GET", f"/api/v1/agents/{theirs}/metrics"),
        ("GET", f"/api/v1/agents/{theirs}/model-policy"),
        ("POST", f"/api/v1/agents/{theirs}/stop"),
        ("POST", f"/api/v1/agents/{theirs}/tokens", {"name": "mine now"}),
        ("PATCH", f"/api/v1/agents/{theirs}", {"name": "mine now"}),
        ("PUT", f"/api/v1/agents/{theirs}/budget", {"limit_usd": 1}),
        ("GET", f"/api/v1/usage/summary?agent_id={theirs}"),
        ("GET", f"/api/v1/usage/breakdown?agent_id={theirs}"),
        ("GET", f"/api/v1/traces?agent_id={theirs}"),
        ("GET", f"/api/v1/pii/findings?agent_id={theirs}"),
        ("GET", f"/api/v1/budget/leases?agent_id={theirs}"),
        ("GET", f"/api/v1/budget/leases/{theirs_lease}"),
        ("GET", f"/api/v1/alerts?agent_id={theirs}"),
        ("GET", f"/api/v1/limits?agent_id={theirs}"),
        ("GET", f"/api/v1/unauthorized-actions?agent_id={theirs}"),
        ("GET", f"/api/v1/users/{w.other_id}"),
    ]
    for method, url, *payload in refused:
        r = w.api.client.request(method, url, headers=w.dev, json=payload[0] if payload else None)
        assert r.status_code in (403, 404), f"{method} {url}: {r.status_code} {r.text[:200]}"
    assert w.api.client.get(f"/api/v1/secrets/{w.secrets['THEIRS']}", headers=w.dev).status_code == 404
    # Lists hold only the developer's own.
    own = {w.mine["id"], w.peer["id"]}
    assert {a["id"] for a in w.api.client.get("/api/v1/agents", headers=w.dev).json()} == own
    assert {x["agent_id"] for x in w.api.client.get("/api/v1/traces", headers=w.dev).json()} <= own
    assert {x["agent_id"] for x in w.api.client.get("/api/v1/budget/leases", headers=w.dev).json()} <= own
    names = {x["name"] for x in w.api.client.get("/api/v1/secrets", headers=w.dev).json()}
    assert names == {"MINE", "MINE_STAGING", "LEADS"}
    assert w.api.client.get("/api/v1/usage/summary", headers=w.dev).json()["cost_usd"] == 0
    breakdown = w.api.client.get("/api/v1/usage/breakdown?by=developer", headers=w.dev).json()
    assert "other@example.com" not in str(breakdown)


# --- credentials ------------------------------------------------------------------------------------
def test_revoked_regenerated_and_replayed_credentials_are_refused_at_once(world: World) -> None:
    w = world
    handshake = {"requested_usd": "0.01", "key_exchange": RuntimeKeys().request()}
    # A revoked IC token: nothing, at once.
    t = _admin_post(w, f"/api/v1/agents/{w.mine['id']}/tokens", {"name": "soon revoked"})
    assert w.api.client.delete(f"/api/v1/tokens/{t['info']['id']}", headers=w.dev).status_code == 204
    for method, url, payload in [
        ("POST", "/api/v1/budget/handshake", handshake),
        ("POST", "/api/v1/budget/return", {"lease_id": w.lease["lease_id"]}),
        ("GET", f"/api/v1/secrets/{w.secrets['MINE']}", None),
    ]:
        r = w.api.client.request(method, url, json=payload, headers=w.agent(t["token"]))
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"], url
    # The developer regenerates their own token: the old one stops, the new one works.
    regen = w.api.client.post(
        f"/api/v1/tokens/{_token_id(w, w.mine_staging_token)}/regenerate", headers=w.dev
    )
    assert regen.status_code == 201 and regen.json()["info"]["environment"] == "staging"
    assert w.api.client.get("/api/v1/secrets", headers=w.agent(w.mine_staging_token)).status_code == 401
    staged = w.api.client.get("/api/v1/secrets", headers=w.agent(regen.json()["token"])).json()
    assert [x["name"] for x in staged] == ["MINE_STAGING"]
    theirs_token = _token_id(w, w.theirs_token)
    assert w.api.client.post(f"/api/v1/tokens/{theirs_token}/regenerate", headers=w.dev).status_code == 403
    # An IC token acts on its own agent's lease only.
    r = w.api.client.post(
        "/api/v1/budget/report",
        json={
            "lease_id": w.lease["lease_id"],
            "reports": [{"request_id": "x", "model": "gpt-4o", "cost_usd": 0}],
        },
        headers=w.agent(w.theirs_token),
    )
    assert r.status_code == 403
    # A refresh token works once; replaying it (a stolen copy) ends the whole login.
    first = w.api.login("developer@example.com", PASSWORD)
    second = w.api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    replay = w.api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    after = w.api.client.post("/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    assert after.status_code == 401
    # A changed password ends every access token issued before it.
    old = w.api.auth(first["access_token"])
    changed = w.api.client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a-new-password-456"},
        headers=old,
    )
    assert changed.status_code == 204
    assert w.api.client.get("/api/v1/users/me", headers=old).status_code == 401


def _token_id(w: World, token: str) -> int:
    for agent in (w.mine, w.theirs):
        for t in w.api.client.get(f"/api/v1/agents/{agent['id']}/tokens", headers=w.admin()).json():
            if token.startswith(t["prefix"]) and not t["revoked"]:
                return int(t["id"])
    raise AssertionError("no such token")


def test_expired_and_rotated_access_tokens(database_url: str) -> None:
    panel = ControlPanel(make_settings(database_url, access_token_ttl_s=3))
    panel.bootstrap_admin()
    try:
        with TestClient(create_app(control_panel=panel)) as client:
            token = client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            assert client.get("/api/v1/users/me", headers=headers).status_code == 200
            rotated = client.post("/api/v1/auth/signing-keys/rotate", headers=headers)
            assert rotated.status_code == 200
            assert client.get("/api/v1/users/me", headers=headers).status_code == 200  # until it expires
            time.sleep(3.5)
            expired = client.get("/api/v1/users/me", headers=headers)
            assert expired.status_code == 401 and "log in again" in expired.json()["error"]["message"]
            tampered = headers["Authorization"][:-4] + "AAAA"
            assert client.get("/api/v1/users/me", headers={"Authorization": tampered}).status_code == 401
    finally:
        panel.close()


# --- models ------------------------------------------------------------------------------------------
def test_a_report_for_a_disallowed_model_is_refused_counted_and_unrecorded(world: World) -> None:
    w = world
    w.api.client.put(
        f"/api/v1/users/{w.dev_id}/model-policy", json={"allowed_models": ["gpt-4o-mini"]}, headers=w.admin()
    )
    before = w.api.budget(w.mine["id"])["spent_usd"]
    r = w.api.client.post(
        "/api/v1/budget/report",
        json={
            "lease_id": w.lease["lease_id"],
            "reports": [{"request_id": "sneaky", "model": "gpt-4o", "cost_usd": "0.5"}],
        },
        headers=w.agent(w.mine_token),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_not_allowed"
    assert w.api.budget(w.mine["id"])["spent_usd"] == before
    actions = w.api.client.get("/api/v1/unauthorized-actions", headers=w.dev).json()
    assert [(a["kind"], a["agent_id"]) for a in actions] == [("model_not_allowed", w.mine["id"])]
    assert any(e.get("event") == "unauthorized_action" for e in w.events)
    assert w.api.client.get("/api/v1/unauthorized-actions", headers=w.other).json() == []


# --- sizes, paths, injection -----------------------------------------------------------------------------
def test_oversized_bodies_are_refused_on_every_endpoint(world: World) -> None:
    w = world
    st = w.api.cp.settings
    for method, path in operations(w):
        limit = st.max_auth_body_bytes if path.startswith("/api/v1/auth/") else st.max_body_bytes
        url = path.format(
            **{
                k: "1"
                for k in (
                    "user_id",
                    "agent_id",
                    "token_id",
                    "secret_id",
                    "lease_id",
                    "request_id",
                    "team_id",
                    "pool_id",
                    "limit_id",
                    "channel_id",
                    "key_id",
                    "trace_id",
                )
            }
        )
        r = w.api.client.request(method, url, content=b"{" + b" " * limit + b"}", headers=w.admin())
        assert r.status_code == 413, f"{method} {path}: {r.status_code}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[EmbeddedControlPanel]:
    with EmbeddedControlPanel(make_settings(f"sqlite:///{tmp_path / 'cp.db'}")) as panel:
        yield panel


def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def test_path_traversal_on_the_dashboards_files_reaches_nothing(served: EmbeddedControlPanel) -> None:
    targets = [
        "/../state.py",
        "/../../control_panel/state.py",
        "/%2e%2e/state.py",
        "/%2e%2e%2fstate.py",
        "/assets/..%2f..%2fstate.py",
        "/assets/%2e%2e/%2e%2e/app.py",
        "/..%5cstate.py",
        "/....//state.py",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/index.html%00.py",
        "/static/../../../../etc/passwd",
    ]
    for target in targets:
        status, content = _raw_get(served.port, target)
        # A page path the app routes itself gets the app (history routing); nothing else.
        assert status in (400, 404) or (status == 200 and b'<div id="app">' in content), (target, status)
        assert b"class ControlPanel" not in content and b"root:x:0:0" not in content, target
        assert b"def create_app" not in content, target
    status, content = _raw_get(served.port, "/")
    assert status == 200 and b'<div id="app">' in content


PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '"); DELETE FROM agents; --',
    "<script>alert(document.cookie)</script>",
    "../../../../etc/passwd",
    "${jndi:ldap://127.0.0.1:9/x}",
    "{{7*7}}{% debug %}",
    "line\r\nX-Injected: yes",
    "nul\x00byte",
    "\u202eevil\ufeff",
    "%00%0d%0a",
    "A" * 5000,
]


def _strings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _replaced(value: Any, path: tuple[Any, ...], new: str) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    out = list(value)
    out[head] = _replaced(out[head], rest, new)
    return out


RUNTIME = ("/api/v1/budget/", "/api/v1/runtime/")


def test_injection_strings_in_every_text_field_are_data_never_code(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    with_body = {
        (m.upper(), p) for p, ops in spec(w)["paths"].items() for m, o in ops.items() if "requestBody" in o
    }
    missing = sorted(op for op in with_body if body(w, *op) is None)
    assert not missing, f"give these a body in body(): {missing}"
    tried = 0
    for method, path in sorted(with_body):
        if path == "/api/v1/budget/return":
            continue  # returning closes the lease the others need; its one string is tried below
        template = body(w, method, path)
        assert template is not None
        headers = w.agent(w.mine_token) if path.startswith(RUNTIME) else w.admin()
        for where in _strings(template):
            for payload in PAYLOADS:
                sent = _replaced(body(w, method, path), where, payload)
                r = call(w, method, path, headers, json=sent)
                tried += 1
                assert r.status_code < 500, f"{method} {path} {where}={payload[:20]!r}: {r.text[:300]}"
                assert "x-injected" not in {k.lower() for k in r.headers}
    for payload in PAYLOADS:  # query strings and a path parameter, URL-encoded
        for url, query in (
            ("/api/v1/traces", {"model": payload}),
            ("/api/v1/secrets", {"name": payload}),
            ("/api/v1/secrets/audit", {"secret_name": payload}),
            ("/api/v1/pii/findings", {"entity": payload}),
            ("/api/v1/usage/breakdown", {"by": payload}),
            (f"/api/v1/budget/leases/{quote(payload[:40], safe='')}", {}),
        ):
            got = w.api.client.get(url, params=query, headers=w.admin())
            assert got.status_code < 500, (url, got.text[:200])
        r = w.api.client.post(
            "/api/v1/budget/return", json={"lease_id": payload[:40]}, headers=w.agent(w.mine_token)
        )
        assert r.status_code in (404, 422)
    assert tried > 500
    # Nothing was executed: the tables are whole, the injected values are plain data.
    with w.api.cp.db.session() as s:
        assert int(s.scalar(select(func.count()).select_from(User)) or 0) >= 4
        assert int(s.scalar(text("SELECT count(*) FROM agents")) or 0) >= 3
    stored = w.api.client.post(
        "/api/v1/agents",
        json={"name": "'; DROP TABLE users; --", "project": "<script>x</script>"},
        headers=w.admin(),
    ).json()
    assert (stored["name"], stored["project"]) == ("'; DROP TABLE users; --", "<script>x</script>")
    assert w.api.client.get("/api/v1/users", headers=w.admin()).status_code == 200
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[:3]  # nothing failed inside, not even an audit row
