"""Live events over WebSocket, across replicas, and budget alerts to webhooks and SMTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from iron_cage.control_panel.embedded import EmbeddedControlPanel
from pg_server import PostgresServer, free_port

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, Api, make_settings
from .servers import ServerProcess


def usage(rid: str, cost: float, **extra: Any) -> dict[str, Any]:
    return {"request_id": rid, "model": "gpt-4o", "cost_usd": cost, **extra}


def test_websocket_gets_state_then_events_scoped_by_role(api: Api) -> None:
    mine = api.agent(budget_usd=10)
    theirs = api.agent(budget_usd=10, owner="admin")
    token = api.ic_token(mine["id"])
    dev = api.tokens.get("developer") or api.as_("developer")["Authorization"].split()[1]
    with api.client.websocket_connect(f"/ws?token={dev}") as ws:
        first = ws.receive_json()
        assert first["type"] == "STATE_UPDATE" and first["agent_id"] == mine["id"]  # not `theirs`
        lease = api.client.post(
            "/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 6}
        ).json()
        api.client.post(
            "/api/v1/budget/handshake", json={"ic_token": api.ic_token(theirs["id"]), "requested_usd": 1}
        )
        reported = api.client.post(
            "/api/v1/budget/report",
            json={
                "lease_id": lease["lease_id"],
                "reports": [usage("r1", 5, pii_findings=2), usage("r2", 0.1, breaker_state="open")],
            },
            headers=api.auth(token),
        )
        assert reported.status_code == 200, reported.text
        seen = [ws.receive_json() for _ in range(7)]
    kinds = [(e["type"], e.get("event")) for e in seen]
    assert kinds == [
        ("AGENT_EVENT", "lease_granted"),
        ("STATE_UPDATE", None),
        ("AGENT_EVENT", "usage"),
        ("PII_ALERT", None),
        ("BREAKER_EVENT", None),
        ("STATE_UPDATE", None),
        ("COST_ALERT", None),
    ], kinds
    assert all(e["agent_id"] == mine["id"] for e in seen)
    assert seen[3]["findings"] == 2 and seen[4]["state"] == "open"
    assert seen[5]["budget"]["spent_usd"] == 5.1
    assert (
        seen[6]["alert"]["threshold_pct"] == 50
        and seen[6]["alert"]["recommended_action"] == "Approve $2.50 increase"
    )


def test_websocket_refuses_bad_credentials(api: Api) -> None:
    for url in ["/ws", "/ws?token=garbage", f"/ws?token={api.ic_token(api.agent()['id'])}"]:
        with pytest.raises(WebSocketDisconnect) as exc, api.client.websocket_connect(url) as ws:
            ws.receive_json()
        assert exc.value.code in (4401, 4403)


def test_a_rolled_back_change_emits_nothing(api: Api) -> None:
    agent = api.agent(budget_usd=1)
    with api.client.websocket_connect(f"/ws?token={api.tokens['admin']}") as ws:
        ws.receive_json()  # the snapshot
        r = api.client.put(
            f"/api/v1/agents/{agent['id']}/budget", json={"limit_usd": 2}, headers=api.as_("admin")
        )
        assert r.status_code == 200
        assert ws.receive_json()["budget"]["limit_usd"] == 2.0
        token = api.ic_token(agent["id"])
        lease = api.client.post(
            "/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 2}
        ).json()
        assert ws.receive_json()["event"] == "lease_granted"
        ws.receive_json()
        bad = api.client.put(
            f"/api/v1/agents/{agent['id']}/budget", json={"limit_usd": 1}, headers=api.as_("admin")
        )
        assert bad.status_code == 409  # below what is leased: rolled back, no STATE_UPDATE
        api.client.post(
            "/api/v1/budget/return", json={"lease_id": lease["lease_id"]}, headers=api.auth(token)
        )
        assert ws.receive_json()["event"] == "lease_returned"


def test_an_event_reported_to_one_replica_reaches_a_websocket_client_of_the_other(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Replicas need PostgreSQL (LISTEN/NOTIFY); SQLite runs one process, so this runs on PostgreSQL only."""
    database_url = postgres.create_database("replicas_ws", template="ic_template")
    a = ServerProcess(database_url, tmp_path, "cp-a", "--sweep-interval", "0")
    b = ServerProcess(database_url, tmp_path, "cp-b", "--sweep-interval", "0")
    with a, b:
        admin, _agent, token = a.new_agent("x", 1)
        jwt = admin["Authorization"].split()[1]
        with connect(f"ws://127.0.0.1:{b.port}/ws?token={jwt}", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "STATE_UPDATE"
            lease = httpx.post(
                f"{a.url}/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 1}
            ).json()
            httpx.post(
                f"{a.url}/api/v1/budget/report",
                headers={"Authorization": f"Bearer {token}"},
                json={"lease_id": lease["lease_id"], "reports": [usage("x1", 0.25)]},
            )
            events = [json.loads(ws.recv(timeout=10)) for _ in range(4)]
        assert [(e["type"], e.get("event")) for e in events] == [
            ("AGENT_EVENT", "lease_granted"),
            ("STATE_UPDATE", None),
            ("AGENT_EVENT", "usage"),
            ("STATE_UPDATE", None),
        ]
        assert events[2]["cost_usd"] == 0.25


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def receivers() -> Iterator[tuple[str, int, _Inbox]]:
    _Hook.received = []
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    inbox = _Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}/hook", smtp_port, inbox
    finally:
        smtp.stop()
        http.shutdown()
        http.server_close()


def test_thresholds_alert_once_each_by_webhook_and_email(
    api: Api, receivers: tuple[str, int, _Inbox]
) -> None:
    hook, smtp_port, inbox = receivers
    api.cp.settings.smtp_host, api.cp.settings.smtp_port = "127.0.0.1", smtp_port
    admin = api.as_("admin")
    for body in [{"kind": "webhook", "target": hook}, {"kind": "email", "target": "ops@example.com"}]:
        assert api.client.post("/api/v1/alerts/channels", json=body, headers=admin).status_code == 201
    bad = api.client.post(
        "/api/v1/alerts/channels", json={"kind": "webhook", "target": "ftp://x"}, headers=admin
    )
    assert bad.status_code == 422
    agent = api.agent(budget_usd=100)
    token = api.ic_token(agent["id"])
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 100}).json()

    def spend(rid: str, usd: float) -> None:
        r = api.client.post(
            "/api/v1/budget/report",
            json={"lease_id": lease["lease_id"], "reports": [usage(rid, usd)]},
            headers=api.auth(token),
        )
        assert r.status_code == 200

    spend("a", 40)  # 40%: nothing
    spend("b", 12)  # 52%: 50
    spend("c", 1)  # 53%: nothing new
    spend("d", 40)  # 93%: 75 and 90 crossed together -> one alert, for 90
    deadline = time.monotonic() + 10
    while (len(_Hook.received) < 2 or len(inbox.messages) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    hooks = sorted(
        _Hook.received, key=lambda h: int(h["threshold_pct"])
    )  # each alert sends on its own thread
    assert [h["threshold_pct"] for h in hooks] == [50, 90]
    assert hooks[1]["recommended_action"] == "Approve $25 increase"
    mails = sorted((message_from_bytes(m) for m in inbox.messages), key=lambda m: str(m["Subject"]))
    assert [m["To"] for m in mails] == ["ops@example.com"] * 2
    assert "reached 90% of its budget" in mails[1]["Subject"]
    assert "Approve $25 increase" in mails[1].get_payload()
    alerts = api.client.get("/api/v1/alerts", headers=api.as_("developer")).json()
    assert [a["threshold_pct"] for a in alerts] == [90, 50]
    deadline = time.monotonic() + 10
    while "ok" not in api.client.get("/api/v1/alerts", headers=admin).json()[0]["deliveries"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert json.loads(api.client.get("/api/v1/alerts", headers=admin).json()[0]["deliveries"]) == [
        f"webhook:{hook}:ok",
        "email:ops@example.com:ok",
    ]


def test_limits_crud_and_delivery_with_the_lease(api: Api) -> None:
    admin = api.as_("admin")
    agent = api.agent()
    glob = api.client.post(
        "/api/v1/limits", json={"kind": "max_tokens_per_request", "value": 4000}, headers=admin
    )
    assert glob.status_code == 201
    own = api.client.post(
        "/api/v1/limits",
        json={"agent_id": agent["id"], "kind": "max_tokens_per_request", "value": 1000},
        headers=admin,
    ).json()
    api.client.post("/api/v1/limits", json={"kind": "max_cost_per_request_usd", "value": 0.5}, headers=admin)
    dup = api.client.post(
        "/api/v1/limits", json={"kind": "max_tokens_per_request", "value": 1}, headers=admin
    )
    assert dup.status_code == 409 and "PATCH" in dup.json()["error"]["message"]
    assert (
        api.client.post(
            "/api/v1/limits", json={"kind": "max_tokens_per_request", "value": -1}, headers=admin
        ).status_code
        == 422
    )
    assert (
        api.client.post(
            "/api/v1/limits",
            json={"kind": "max_tokens_per_request", "value": 1},
            headers=api.as_("developer"),
        ).status_code
        == 403
    )
    lease = api.client.post(
        "/api/v1/budget/handshake", json={"ic_token": api.ic_token(agent["id"]), "requested_usd": 1}
    ).json()
    assert lease["limits"] == {
        "max_tokens_per_request": 1000.0,
        "max_cost_per_request_usd": 0.5,
        "max_requests_per_minute": None,
        "daily_usd": None,
        "allowed_models": None,
        "allowed_providers": None,
        "pii_egress": None,
        "pii_ingress": None,
    }
    api.client.patch(f"/api/v1/limits/{own['id']}", json={"value": 2000}, headers=admin)
    assert api.client.get(f"/api/v1/limits/{own['id']}", headers=api.as_("viewer")).json()["value"] == 2000
    assert api.client.delete(f"/api/v1/limits/{own['id']}", headers=admin).status_code == 204
    assert len(api.client.get("/api/v1/limits", headers=admin).json()) == 2


def test_an_idle_websocket_gets_heartbeats(api: Api) -> None:
    api.cp.settings.heartbeat_s = 0.2
    with api.client.websocket_connect("/ws", headers=api.as_("viewer")) as ws:
        beats = [ws.receive_json() for _ in range(2)]
    assert [b["type"] for b in beats] == ["HEARTBEAT", "HEARTBEAT"]
    assert beats[0]["replica"] == api.cp.settings.replica_name and beats[0]["dropped"] == 0


def _closed(ws: Connection, within_s: float = 10) -> tuple[int, str]:
    """Reads until the server closes the connection; its close code and reason."""
    deadline = time.monotonic() + within_s
    with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 (reads until the close arrives)
        while time.monotonic() < deadline:
            ws.recv(timeout=deadline - time.monotonic())
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_a_websocket_closes_once_its_user_loses_access(database_url: str) -> None:
    """Suspension, deletion, a role change or a password reset close the user's live
    connection within the re-check interval; an admin's stays open."""
    settings = make_settings(database_url, ws_recheck_s=0.2, heartbeat_s=0.1)
    with EmbeddedControlPanel(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        admin = {"Authorization": "Bearer " + _login(http, ADMIN_EMAIL, ADMIN_PASSWORD)}
        ws_url = f"ws://127.0.0.1:{server.port}/ws?token="
        with connect(ws_url + admin["Authorization"].split()[1], open_timeout=10) as admin_ws:
            changes: list[tuple[str, dict[str, Any] | None]] = [
                ("POST /suspend", None),
                ("DELETE ", None),
                ("PATCH ", {"role": "viewer"}),
                ("POST /reset-password", None),
            ]
            for i, (change, body) in enumerate(changes):
                email = f"live{i}@example.com"
                created = http.post(
                    "/api/v1/users",
                    json={"email": email, "name": "L", "role": "developer", "password": PASSWORD},
                    headers=admin,
                )
                uid = created.json()["user"]["id"]
                with connect(ws_url + _login(http, email, PASSWORD), open_timeout=10) as ws:
                    assert json.loads(ws.recv(timeout=10))["type"] == "HEARTBEAT"  # connected
                    method, suffix = change.split(" ")
                    r = http.request(method, f"/api/v1/users/{uid}{suffix}", json=body, headers=admin)
                    assert r.status_code in (200, 204), r.text
                    code, reason = _closed(ws)
                assert code == 4401, (change, code, reason)
                assert reason in (
                    "this account is suspended or gone",
                    "access token no longer valid: the account's password, role or status changed "
                    "after it was issued; log in again",
                ), (change, reason)
            assert json.loads(admin_ws.recv(timeout=10))["type"] in ("HEARTBEAT", "STATE_UPDATE")


def test_a_websocket_closes_when_its_access_token_expires(database_url: str) -> None:
    settings = make_settings(database_url, ws_recheck_s=0.2, heartbeat_s=0.1, access_token_ttl_s=2)
    with EmbeddedControlPanel(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        token = _login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
        with connect(f"ws://127.0.0.1:{server.port}/ws?token={token}", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "HEARTBEAT"
            code, reason = _closed(ws)
        # Reconnecting with the expired token: refused with a close code a browser can read.
        with connect(f"ws://127.0.0.1:{server.port}/ws?token={token}", open_timeout=10) as ws:
            assert _closed(ws) == (code, reason)
    assert code == 4401
    assert reason == "invalid or expired access token: log in again or use POST /api/v1/auth/refresh"


def _login(http: httpx.Client, email: str, password: str) -> str:
    r = http.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def finding(entity: str, severity: str = "high", start: int = 0) -> dict[str, Any]:
    return {
        "entity": entity,
        "severity": severity,
        "start": start,
        "end": start + 12,
        "value_hmac": "ab" * 32,
    }


def test_findings_in_what_calls_send_are_stored_with_their_action(api: Api) -> None:
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 5}).json()
    sent = {**finding("EMAIL"), "direction": "request", "action": "pseudonymized"}
    body = {
        "lease_id": lease["lease_id"],
        "reports": [usage("q1", 0.01, pii_findings=1, pii=[finding("PHONE"), sent])],
    }
    r = api.client.post("/api/v1/budget/report", json=body, headers=api.auth(token))
    assert r.status_code == 200, r.text
    admin = api.as_("admin")
    rows = api.client.get(f"/api/v1/pii/findings?agent_id={agent['id']}", headers=admin).json()
    assert sorted((r["entity"], r["direction"], r["action"]) for r in rows) == [
        ("EMAIL", "request", "pseudonymized"),
        ("PHONE", "reply", None),
    ]
    only = api.client.get("/api/v1/pii/findings?direction=request", headers=admin).json()
    assert [r["request_id"] for r in only] == ["q1"]
    # The call's reply count is the reply's findings, not the request's.
    traces = api.client.get(f"/api/v1/traces?agent_id={agent['id']}", headers=admin).json()
    assert [t["pii_findings"] for t in traces] == [1]
    for bad in ({**finding("EMAIL"), "direction": "request"}, {**finding("EMAIL"), "action": "redacted"}):
        body = {"lease_id": lease["lease_id"], "reports": [usage("q2", 0.01, pii=[bad])]}
        r = api.client.post("/api/v1/budget/report", json=body, headers=api.auth(token))
        assert r.status_code == 422 and "carries its action" in r.text, r.text


def test_pii_findings_are_stored_one_row_each_and_alert_once_per_agent_entity_and_window(
    api: Api, receivers: tuple[str, int, _Inbox]
) -> None:
    hook, smtp_port, inbox = receivers
    api.cp.settings.smtp_host, api.cp.settings.smtp_port = "127.0.0.1", smtp_port
    admin = api.as_("admin")
    for body in [{"kind": "webhook", "target": hook}, {"kind": "email", "target": "privacy@example.com"}]:
        assert api.client.post("/api/v1/alerts/channels", json=body, headers=admin).status_code == 201
    agent = api.agent(budget_usd=10)
    token = api.ic_token(agent["id"])
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 5}).json()

    def report(*reports: dict[str, Any]) -> Any:
        body = {"lease_id": lease["lease_id"], "reports": list(reports)}
        r = api.client.post("/api/v1/budget/report", json=body, headers=api.auth(token))
        assert r.status_code == 200, r.text
        return r.json()

    three = [finding("EMAIL"), finding("EMAIL", "medium", 40), finding("IBAN", "critical")]
    with api.client.websocket_connect(f"/ws?token={api.tokens['admin']}") as ws:
        ws.receive_json()  # the agent's STATE_UPDATE
        report(
            usage("p1", 0.01, pii=three),
            usage("p2", 0.01, pii=[finding("EMAIL", "low")]),
            usage("p3", 0.01),  # reports without findings are accepted as before
        )
        pii = next(e for e in (ws.receive_json() for _ in range(6)) if e["type"] == "PII_ALERT")
    assert (pii["findings"], pii["calls"], pii["entities"]) == (4, 2, ["EMAIL", "IBAN"])
    assert [(a["entity"], a["severity"], a["findings"]) for a in pii["alerts"]] == [
        ("EMAIL", "high", 3),
        ("IBAN", "critical", 1),
    ]
    report(usage("p4", 0.01, pii=[finding("EMAIL")]))  # same window: stored, no new alert
    assert report(usage("p1", 0.01, pii=[finding("EMAIL")]))["duplicates"] == 1  # a replay adds nothing
    rows = api.client.get(f"/api/v1/pii/findings?agent_id={agent['id']}", headers=api.as_("developer")).json()
    assert sorted((r["request_id"], r["entity"], r["severity"]) for r in rows) == [
        ("p1", "EMAIL", "high"),
        ("p1", "EMAIL", "medium"),
        ("p1", "IBAN", "critical"),
        ("p2", "EMAIL", "low"),
        ("p4", "EMAIL", "high"),
    ]
    assert {r["value_hmac"] for r in rows} == {"ab" * 32}
    assert {r["lease_id"] for r in rows} == {lease["lease_id"]}
    ibans = api.client.get("/api/v1/pii/findings?entity=IBAN", headers=admin).json()
    assert [r["request_id"] for r in ibans] == ["p1"]
    deadline = time.monotonic() + 10
    while (len(_Hook.received) < 2 or len(inbox.messages) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(h["entity"] for h in _Hook.received) == ["EMAIL", "IBAN"]
    subjects = sorted(str(message_from_bytes(m)["Subject"]) for m in inbox.messages)
    assert len(subjects) == 2 and "reported EMAIL PII" in subjects[0] and "reported IBAN PII" in subjects[1]
    alerts = api.client.get(f"/api/v1/alerts?agent_id={agent['id']}", headers=admin).json()
    assert sorted(a["kind"] for a in alerts) == ["pii_detected", "pii_detected"]
    # A new window fires again.
    api.cp.settings.pii_alert_window_s = 1
    time.sleep(1.1)
    report(usage("p5", 0.01, pii=[finding("EMAIL")]))
    assert len(api.client.get(f"/api/v1/alerts?agent_id={agent['id']}", headers=admin).json()) == 3
    bad = api.client.post(
        "/api/v1/budget/report",
        json={
            "lease_id": lease["lease_id"],
            "reports": [usage("p6", 0.01, pii=[{**finding("EMAIL"), "end": -1}])],
        },
        headers=api.auth(token),
    )
    assert bad.status_code == 422
