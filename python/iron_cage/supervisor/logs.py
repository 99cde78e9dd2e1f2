"""Structured logs of a supervised agent.

Every record has ``ts``, ``level``, ``agent_id``, ``user_id`` (when known), ``event``, a
message and ``fields``. The agent's log file gets JSON lines and rotates (daily or past a
size, old files removed after ``retention_days``); a terminal gets ``[14:23:45] INFO
lg-7a3f9c2d message`` with colours (``--log-format json`` prints the JSON lines instead).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from iron_cage.supervisor.config import LoggingConfig

_COLOURS = {"DEBUG": "\033[2m", "INFO": "\033[36m", "WARNING": "\033[33m", "ERROR": "\033[31;1m"}
_RESET = "\033[0m"
_LEVEL_NAMES = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR", "CRITICAL": "ERROR"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "ic_fields", None)
    return fields if isinstance(fields, dict) else {}


def record_dict(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "agent_id": getattr(record, "ic_agent_id", None),
        "event": getattr(record, "ic_event", None) or "log",
        "message": record.getMessage(),
        "fields": _fields(record),
    }
    user = getattr(record, "ic_user_id", None)
    if user is not None:
        out["user_id"] = user
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_dict(record), default=str, separators=(",", ":"))


def human_line(data: dict[str, Any], *, colour: bool) -> str:
    """``[14:23:45] INFO lg-7a3f9c2d message`` from a JSON log record."""
    try:
        ts = datetime.fromisoformat(str(data.get("ts"))).astimezone()
        clock = ts.strftime("%H:%M:%S")
    except ValueError:
        clock = "--:--:--"
    level = _LEVEL_NAMES.get(str(data.get("level", "info")).upper(), "INFO")
    text = f"[{clock}] {level:<5} {data.get('agent_id') or '-'} {data.get('message', '')}"
    if colour:
        code = _COLOURS.get("WARNING" if level == "WARN" else level, "")
        text = (
            f"\033[2m[{clock}]{_RESET} {code}{level:<5}{_RESET} \033[1m{data.get('agent_id') or '-'}{_RESET} "
        )
        text += str(data.get("message", ""))
    return text


class HumanFormatter(logging.Formatter):
    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        return human_line(record_dict(record), colour=self.colour)


def use_colour(stream: IO[str]) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class RotatingJsonFile(logging.Handler):
    """``agent.log`` (mode 0600), rotated at midnight UTC or past ``max_bytes`` into
    ``agent.log.<UTC time>``; rotated files older than ``retention_days`` are deleted."""

    def __init__(self, path: Path, retention_days: int, max_bytes: int) -> None:
        super().__init__()
        self.path = path
        self.retention_s = retention_days * 86400
        self.max_bytes = max_bytes
        self._stream: IO[str] | None = None
        self._day = ""
        self.setFormatter(JsonFormatter())
        self._open()
        self.prune()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._stream = os.fdopen(fd, "a", encoding="utf-8")
        self._day = time.strftime("%Y%m%d", time.gmtime())

    def prune(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for old in self.path.parent.glob(self.path.name + ".*"):
            with contextlib.suppress(OSError):
                if now - old.stat().st_mtime > self.retention_s:
                    old.unlink()

    def rotate(self) -> None:
        if self._stream is not None:
            self._stream.close()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.{stamp}.{n}")
            n += 1
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, target)
        self._open()
        self.prune()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            assert self._stream is not None
            if self._day != time.strftime("%Y%m%d", time.gmtime()) or self._stream.tell() + len(line) > (
                self.max_bytes
            ):
                self.rotate()
                assert self._stream is not None
            self._stream.write(line)
            self._stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        super().close()


class AgentLog:
    """The supervisor's logger for one agent: ``log.info("agent_started", "started ...", pid=1)``."""

    def __init__(
        self,
        agent_id: str,
        cfg: LoggingConfig,
        file: Path | None,
        *,
        stream: IO[str] | None = None,
        verbose: bool = False,
    ) -> None:
        self.agent_id = agent_id
        self.user_id: int | None = None
        self.logger = logging.getLogger(f"iron_cage.agent.{agent_id}")
        self.logger.propagate = False
        level = logging.DEBUG if verbose else getattr(logging, cfg.level.upper())
        self.logger.setLevel(level)
        for h in list(self.logger.handlers):
            self.logger.removeHandler(h)
            h.close()
        if file is not None:
            fh = RotatingJsonFile(file, cfg.retention_days, cfg.max_bytes)
            fh.setLevel(logging.DEBUG)  # the file keeps everything the logger passes
            self.logger.addHandler(fh)
        if stream is not None:
            sh = logging.StreamHandler(stream)
            sh.setFormatter(JsonFormatter() if cfg.format == "json" else HumanFormatter(use_colour(stream)))
            self.logger.addHandler(sh)

    def log(self, level: int, event: str, message: str, **fields: Any) -> None:
        extra: dict[str, Any] = {"ic_agent_id": self.agent_id, "ic_event": event, "ic_fields": fields}
        if self.user_id is not None:
            extra["ic_user_id"] = self.user_id
        self.logger.log(level, "%s", message, extra=extra)

    def debug(self, event: str, message: str, **fields: Any) -> None:
        self.log(logging.DEBUG, event, message, **fields)

    def info(self, event: str, message: str, **fields: Any) -> None:
        self.log(logging.INFO, event, message, **fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        self.log(logging.WARNING, event, message, **fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self.log(logging.ERROR, event, message, **fields)

    def close(self) -> None:
        for h in list(self.logger.handlers):
            self.logger.removeHandler(h)
            h.close()


def default_stream() -> IO[str]:
    return sys.stderr
