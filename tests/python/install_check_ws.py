"""``make install-check``: the Control Panel of a plain ``pip install '.[control-panel]'`` serves
the dashboard and /ws.

Run by the installed venv's Python from ``/`` (so the installed package is imported, not the
checkout): starts ``iron-cage control-panel serve`` on a free loopback port with a fresh
SQLite database; expects the dashboard (shipped in the wheel) at ``/`` and at a page path
(``/calls``: history routing), and the API docs' Swagger UI from the same server; logs in as
the bootstrapped admin, creates an agent, opens ``/ws`` with a real WebSocket client and
expects the agent's STATE_UPDATE. Without a WebSocket library
uvicorn answers ``/ws`` with 404 ("No supported WebSocket library detected").
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

try:
    from websockets.sync.client import connect
except ImportError:
    sys.exit(
        "install check failed: `pip install 'iron-cage[control-panel]'` installed no WebSocket library "
        "(websockets), so the Control Panel's /ws answers 404: add it to the control-panel extra"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            why = f"the Control Panel exited ({server.returncode})"
            sys.exit(f"install check failed: {why}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    why = f"no answer from the Control Panel within {timeout_s} s"
    sys.exit(f"install check failed: {why}:\n{log.read_text()}")


def check_dashboard(url: str) -> None:
    import iron_cage.control_panel.dashboard as dashboard

    static = Path(dashboard.__file__).parent / "static"
    if not (static / "index.html").is_file():
        sys.exit(f"install check failed: the wheel has no dashboard build ({static}/index.html is missing)")
    app = (static / "index.html").read_text()
    for path in ("/", "/calls"):
        r = httpx.get(f"{url}{path}")
        if r.status_code != 200 or r.text != app or '<div id="app">' not in r.text:
            why = f"{path} answered {r.status_code}, not the dashboard"
            sys.exit(f"install check failed: {why}: {r.text[:200]}")
    if httpx.get(f"{url}/api/v1/nothing-here").json().get("error", {}).get("code") != "not_found":
        sys.exit("install check failed: an unknown API path did not answer a JSON 404")
    docs = httpx.get(f"{url}/api/v1/docs").text
    bundle = httpx.get(f"{url}/api-docs/swagger-ui-bundle.js")
    if "/api-docs/swagger-ui-bundle.js" not in docs or bundle.status_code != 200:
        sys.exit("install check failed: /api/v1/docs does not run Swagger UI from this server")
    print(f"dashboard OK: / and /calls answer the app from {static}; API docs offline")


def main() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    email, password = "admin@install-check.local", secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="iron-cage-install-check-") as tmp:
        log = Path(tmp, "server.log")
        env = dict(os.environ, IRON_CAGE_ADMIN_EMAIL=email, IRON_CAGE_ADMIN_PASSWORD=password)
        env.pop("IRON_SECRETS_MASTER_KEY", None)  # SQLite: generated beside the database
        cmd = [
            str(Path(sys.executable).with_name("iron-cage")),
            "control-panel",
            "serve",
            "--port",
            str(port),
            "--database-url",
            f"sqlite:///{tmp}/cp.db",
            "--sweep-interval",
            "0",
        ]
        with open(log, "wb") as out:
            server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(url, server, log)
            check_dashboard(url)
            login = httpx.post(f"{url}/api/v1/auth/login", json={"email": email, "password": password})
            login.raise_for_status()
            token = login.json()["access_token"]
            agent = httpx.post(
                f"{url}/api/v1/agents",
                json={"name": "install-check", "budget_usd": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            agent.raise_for_status()
            with connect(f"ws://127.0.0.1:{port}/ws?token={token}", open_timeout=10) as ws:
                first = json.loads(ws.recv(timeout=10))
            if first.get("type") != "STATE_UPDATE" or first.get("agent_id") != agent.json()["id"]:
                sys.exit(f"install check failed: /ws connected but sent {first!r} before the agent's state")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    print(f"control panel /ws OK: a WebSocket client connected and got the agent's STATE_UPDATE ({url})")


if __name__ == "__main__":
    main()
