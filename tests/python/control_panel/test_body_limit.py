"""Oversize request bodies get 413 before they are read, against a real uvicorn server.

The bodies come from generators, so a refused 300 MB body is never built: the client
stops sending when the server answers and closes the connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iron_cage.control_panel.embedded import EmbeddedControlPanel

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

MB = 1 << 20


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedControlPanel]:
    settings = make_settings(f"sqlite:///{tmp_path / 'cp.db'}")
    with EmbeddedControlPanel(settings) as cp:
        yield cp


class Counted:
    """``total`` bytes in ``chunk``-sized pieces, made only as the client sends them."""

    def __init__(self, total: int, chunk: int = 64 << 10, first: bytes = b"") -> None:
        self.total, self.chunk, self.first, self.sent = total, chunk, first, 0

    def __iter__(self) -> Iterator[bytes]:
        if self.first:
            self.sent += len(self.first)
            yield self.first
        while self.sent < self.total:
            piece = b" " * min(self.chunk, self.total - self.sent)
            self.sent += len(piece)
            yield piece


def post(url: str, content: Iterator[bytes] | bytes, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(url, content=content, headers={"Content-Type": "application/json", **headers})


def test_a_login_claiming_300_mb_is_refused_from_its_headers(server: EmbeddedControlPanel) -> None:
    body = Counted(300 * MB, first=b'{"email": "a@example.com", "password": "')
    r = post(f"{server.url}/api/v1/auth/login", iter(body), {"Content-Length": str(300 * MB)})
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["code"] == "payload_too_large"
    assert err["message"].startswith(f"request body too large (Content-Length says {300 * MB} bytes)")
    assert "/api/v1/auth/login accepts at most 16384 bytes" in err["message"]
    assert err["details"] == {"limit_bytes": 16384}
    assert body.sent < 300 * MB


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server: EmbeddedControlPanel) -> None:
    token = post(
        f"{server.url}/api/v1/auth/login",
        json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode(),
        {},
    ).json()["access_token"]
    body = Counted(300 * MB, first=b'{"lease_id": "lse_x", "reports": [')
    r = post(f"{server.url}/api/v1/budget/report", iter(body), {"Authorization": f"Bearer {token}"})
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["code"] == "payload_too_large"
    assert "more than 1048576 bytes sent without Content-Length" in err["message"]
    assert body.sent < 300 * MB
    small = Counted(20 * 1024, first=b'{"refresh_token": "')
    r = post(f"{server.url}/api/v1/auth/refresh", iter(small), {})
    assert r.status_code == 413 and "at most 16384 bytes" in r.json()["error"]["message"]


def test_bodies_within_the_limit_arrive_whole_chunked_or_not(server: EmbeddedControlPanel) -> None:
    login = json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode()
    pieces = [login[i : i + 7] for i in range(0, len(login), 7)]  # chunked: no Content-Length
    r = post(f"{server.url}/api/v1/auth/login", iter(pieces), {})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    value = "v" * 60_000  # a large secret, well inside the 1 MiB default
    created = post(
        f"{server.url}/api/v1/secrets", json.dumps({"name": "BIG", "value": value}).encode(), headers
    )
    assert created.status_code == 201, created.text
    with httpx.Client(timeout=30) as client:
        sid = created.json()["id"]
        got = client.post(f"{server.url}/api/v1/secrets/{sid}/reveal", headers=headers)
    assert got.json()["value"] == value


def test_every_endpoint_refuses_an_oversize_body_before_anything_else(server: EmbeddedControlPanel) -> None:
    """Every operation of the OpenAPI spec, without credentials: 413 from the body limit, never a
    401 or a 422 from something that read the body; chunked bodies alike."""
    spec = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    st = server.panel.settings
    wrong = []
    with httpx.Client(timeout=30) as client:
        for path, ops in spec["paths"].items():
            url = server.url + path.replace("{", "").replace("}", "").replace("_id", "1")
            for method in ops:
                limit = st.max_auth_body_bytes if path.startswith("/api/v1/auth/") else st.max_body_bytes
                sized = client.request(method.upper(), url, content=b"x" * (limit + 1))
                chunked = client.request(method.upper(), url, content=Counted(limit + 1))
                for how, r in (("sized", sized), ("chunked", chunked)):
                    if r.status_code != 413 or r.json()["error"]["details"] != {"limit_bytes": limit}:
                        wrong.append(f"{method.upper()} {path} ({how}): {r.status_code}")
    assert not wrong, wrong
    assert len(spec["paths"]) > 40


def test_a_websocket_message_past_the_limit_closes_the_connection(server: EmbeddedControlPanel) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    r = httpx.post(f"{server.url}/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    token = r.json()["access_token"]
    with connect(server.url.replace("http", "ws") + f"/ws?token={token}", max_size=None) as ws:
        ws.send("x" * (server.panel.settings.ws_max_bytes + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)  # the heartbeat never comes: the server closed the connection
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
