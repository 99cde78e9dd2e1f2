"""A real Control Panel process for the benches: `iron-cage control-panel serve` on 127.0.0.1
with a bench admin, no lease sweeper, and its output in a log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from iron_cage import _core

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))
from pg_server import free_port, wait_port

ADMIN = {"email": "bench@example.com", "password": "bench-password-123"}


def start_server(
    database_url: str,
    log: Path,
    *,
    master_key: str | None = None,
    replica: str | None = None,
    workers: int = 1,
) -> tuple[subprocess.Popen[bytes], int]:
    """Starts a server and waits for its port; replicas of one database share ``master_key``."""
    port = free_port()
    env = dict(
        os.environ,
        IRON_SECRETS_MASTER_KEY=master_key or _core.generate_master_key(),
        IRON_CAGE_ADMIN_EMAIL=ADMIN["email"],
        IRON_CAGE_ADMIN_PASSWORD=ADMIN["password"],
    )
    cmd = [sys.executable, "-m", "iron_cage", "control-panel", "serve", "--port", str(port)]
    cmd += ["--database-url", database_url, "--sweep-interval", "0"]
    if replica is not None:
        cmd += ["--replica", replica]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_port(port, 60)
    return proc, port
