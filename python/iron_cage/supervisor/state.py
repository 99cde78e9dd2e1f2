"""The local state directory: ``$IRON_CAGE_HOME/agents/<ID>/`` holds ``status.json``, ``pid``
(the agent process), ``supervisor.pid`` and ``logs/``. Files are written atomically, mode 0600;
no secret is ever written here."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from iron_cage._exceptions import ConfigError

HOME_ENV = "IRON_CAGE_HOME"
STATES = ("starting", "running", "stopping", "stopped", "crashed", "restarting", "budget_exhausted")
FINAL_STATES = ("stopped", "crashed", "budget_exhausted")
_ID = re.compile(r"^[a-z0-9]{1,4}-[0-9a-f]{8}$")
_SKIP_WORDS = {"agent", "agents", "main", "run", "bot", "py"}


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".iron-cage")


def agents_dir() -> Path:
    return home() / "agents"


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w not in _SKIP_WORDS]


def id_prefix(script: str | os.PathLike[str]) -> str:
    """``lead_gen_agent.py`` -> ``lg``; ``scraper.py`` -> ``sc``; ``lead_gen/agent.py`` -> ``lg``."""
    p = Path(script)
    words = _words(p.stem) or _words(p.resolve().parent.name)
    if not words:
        return "ag"
    if len(words) == 1:
        return words[0][:2]
    return "".join(w[0] for w in words)[:4]


def new_agent_id(script: str | os.PathLike[str]) -> str:
    """A fresh ``<prefix>-<8 hex>`` that no agent in the state directory has."""
    prefix = id_prefix(script)
    while True:
        agent_id = f"{prefix}-{secrets.token_hex(4)}"
        if not (agents_dir() / agent_id).exists():
            return agent_id


def check_id(agent_id: str) -> str:
    if not _ID.match(agent_id):
        raise ConfigError(f"{agent_id!r} is not an agent ID (like lg-7a3f9c2d): see `iron-cage ps`")
    return agent_id


def write_private(path: Path, text: str) -> None:
    """Writes ``text`` atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class AgentDir:
    """One agent's directory."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.path = agents_dir() / agent_id

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def log_dir(self) -> Path:
        return self.path / "logs"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "agent.log"

    @property
    def outbox(self) -> Path:
        return self.path / "outbox.db"

    def create(self) -> AgentDir:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_dir.mkdir(exist_ok=True, mode=0o700)
        return self

    def exists(self) -> bool:
        return self.status_file.exists()

    def write_status(self, status: dict[str, Any]) -> None:
        write_private(self.status_file, json.dumps(status, indent=2, sort_keys=True, default=str))

    def read_status(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.status_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no agent {self.agent_id}: see `iron-cage ps`") from None
        except ValueError:  # being replaced right now: read again
            time.sleep(0.05)
            data = json.loads(self.status_file.read_text(encoding="utf-8"))
        sup = data.get("supervisor_pid")
        if data.get("state") not in FINAL_STATES and isinstance(sup, int) and not pid_alive(sup):
            data["state"] = "crashed"
            data["reason"] = "the supervisor is gone"
        return data

    def write_pid(self, name: str, pid: int | None) -> None:
        if pid is None:
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()
        else:
            write_private(self.path / name, f"{pid}\n")

    def request_stop(self, grace_s: float | None) -> None:
        write_private(self.path / "stop.json", json.dumps({"grace_s": grace_s}))

    def take_stop_request(self) -> float | None:
        path = self.path / "stop.json"
        try:
            grace = json.loads(path.read_text()).get("grace_s")
        except (FileNotFoundError, ValueError):
            return None
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return float(grace) if isinstance(grace, int | float) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def all_agents() -> list[dict[str, Any]]:
    """Every agent's status, newest first."""
    base = agents_dir()
    if not base.is_dir():
        return []
    result = []
    for d in base.iterdir():
        if _ID.match(d.name) and (d / "status.json").exists():
            with contextlib.suppress(ConfigError, ValueError, OSError):
                result.append(AgentDir(d.name).read_status())
    result.sort(key=lambda s: str(s.get("started_at", "")), reverse=True)
    return result
