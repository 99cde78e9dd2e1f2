"""Real Control Panel processes (``iron-cage control-panel serve``) for multi-replica tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from pg_server import free_port, wait_port

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, MASTER_KEY


class ServerProcess:
    def __init__(self, database_url: str, log_dir: Path, name: str = "cp-1", *extra: str) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.name = name
        self.extra = extra
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = dict(
            os.environ,
            IRON_SECRETS_MASTER_KEY=MASTER_KEY,
            IRON_CAGE_ADMIN_EMAIL=ADMIN_EMAIL,
            IRON_CAGE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        )
        cmd = [
            sys.executable,
            "-m",
            "iron_cage",
            "control-panel",
            "serve",
            "--port",
            str(self.port),
            "--database-url",
            self.database_url,
            "--replica",
            self.name,
            *self.extra,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, 60)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"server did not start:\n{self.log_path.read_text()}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def admin_headers(self) -> dict[str, str]:
        r = httpx.post(
            f"{self.url}/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def new_agent(self, name: str, budget_usd: float | str) -> tuple[dict[str, str], dict[str, Any], str]:
        """(admin headers, the agent, an IC token of it): an agent of the admin with an allocation."""
        admin = self.admin_headers()
        me = httpx.get(f"{self.url}/api/v1/users/me", headers=admin).json()
        agent = httpx.post(
            f"{self.url}/api/v1/agents",
            headers=admin,
            json={"name": name, "owner_id": me["id"], "budget_usd": budget_usd},
        ).json()
        token = httpx.post(f"{self.url}/api/v1/agents/{agent['id']}/tokens", headers=admin, json={}).json()[
            "token"
        ]
        return admin, agent, str(token)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
