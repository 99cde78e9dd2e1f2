"""Helpers for the supervisor tests: real `iron-cage` processes against a real FakeProvider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iron_cage.testing import FakeProvider

AGENTS = Path(__file__).parent / "agents"
WORKER = str(AGENTS / "worker_agent.py")
ECHO = str(AGENTS / "echo_agent.py")


class Env:
    """An IRON_CAGE_HOME of its own, a FakeProvider, and the `iron-cage` command."""

    def __init__(self, home: Path, provider: FakeProvider) -> None:
        self.home = home
        self.provider = provider
        self.vars: dict[str, str] = {
            **os.environ,
            "IRON_CAGE_HOME": str(home),
            "IRON_CAGE_OUTBOX_DIR": str(home / "outbox"),
            "OPENAI_BASE_URL": provider.base_url,
            "OPENAI_API_KEY": "sk-test-plain",
            "NO_COLOR": "1",
        }
        for name in (
            "IRON_CAGE_IC_TOKEN",
            "IRON_CAGE_TOKEN",
            "IRON_CAGE_SERVER_URL",
            "IRON_CAGE_CONTROL_PANEL",
        ):
            self.vars.pop(name, None)

    def cli(self, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iron_cage", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=90,
            env={**self.vars, **env},
            check=False,
        )

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "iron_cage", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.vars, **env},
        )

    def start(self, *args: str, **env: str) -> str:
        out = self.cli("start", "--detach", *args, **env)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout.split()[0]

    def status(self, agent_id: str) -> dict[str, Any]:
        path = self.home / "agents" / agent_id / "status.json"
        for _ in range(20):
            try:
                data: dict[str, Any] = json.loads(path.read_text())
                return data
            except ValueError:
                time.sleep(0.02)
        raise AssertionError(f"unreadable {path}")

    def log_records(self, agent_id: str) -> list[dict[str, Any]]:
        log = self.home / "agents" / agent_id / "logs" / "agent.log"
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def output(self, agent_id: str) -> list[str]:
        """What a detached agent printed (captured into its log)."""
        return [r["message"] for r in self.log_records(agent_id) if r["event"] == "output"]

    def files_text(self, agent_id: str) -> str:
        d = self.home / "agents" / agent_id
        return "\n".join(
            p.read_text(errors="replace") for p in d.rglob("*") if p.is_file() and p.suffix != ".db"
        )


def wait_for(what: str, pred: Callable[[], object], timeout: float = 30.0, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with FakeProvider() as fp:
        yield Env(tmp_path / "home", fp)
