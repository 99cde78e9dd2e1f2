"""`control-panel serve --workers N`: several server processes on one port and one PostgreSQL
database, supervised (a killed worker is replaced), stopped together; refused on SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pg_server import PostgresServer

from .conftest import MASTER_KEY
from .servers import ServerProcess


def _workers_seen(url: str, tries: int = 400) -> set[str]:
    """The replica names /health answers with, over fresh connections (each may reach any worker)."""
    seen: set[str] = set()
    for _ in range(tries):
        r = httpx.get(f"{url}/api/v1/health", headers={"Connection": "close"}, timeout=10)
        assert r.status_code == 200, r.text
        seen.add(r.json()["replica"])
        if len(seen) >= 2:
            break
    return seen


def test_two_workers_share_the_port_and_a_killed_one_is_replaced(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("workers", template="ic_template")
    server = ServerProcess(url, tmp_path, "cp-w", "--workers", "2").start()
    try:
        seen = _workers_seen(server.url)
        assert len(seen) == 2 and all(n.startswith("cp-w/") for n in seen), seen
        victim = int(sorted(seen)[0].split("/")[1])
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        replaced: set[str] = set()
        while time.monotonic() < deadline and not replaced:
            time.sleep(0.5)
            try:
                replaced = _workers_seen(server.url, 50) - seen
            except httpx.TransportError:
                continue  # the killed worker's half-open connection
        assert replaced, f"no worker replaced {victim}:\n{server.log_path.read_text()[-2000:]}"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
    finally:
        server.stop()


def test_workers_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    env = dict(os.environ, IRON_SECRETS_MASTER_KEY=MASTER_KEY)
    r = subprocess.run(
        [sys.executable, "-m", "iron_cage", "control-panel", "serve", "--port", "0", "--workers", "2",
         "--database-url", f"sqlite:///{tmp_path / 'cp.db'}"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "--workers 2 needs PostgreSQL" in r.stderr and "serving" not in r.stdout
