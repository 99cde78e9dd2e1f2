"""What an agent may tell its supervisor: ``ic.progress(23, 100, unit="leads")`` and
``ic.outcome(True)``. Outside a supervised run both are no-ops."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from iron_cage._exceptions import ConfigError

_lock = threading.Lock()
_send: Callable[[dict[str, Any]], None] | None = None
_spent: Callable[[], float] | None = None


def _connect(send: Callable[[dict[str, Any]], None], spent: Callable[[], float]) -> None:
    """Used by the bootstrap of a supervised agent."""
    global _send, _spent
    with _lock:
        _send, _spent = send, spent


def supervised() -> bool:
    """True inside an agent run by ``iron-cage start``."""
    return _send is not None


def progress(done: int, total: int | None = None, unit: str = "items") -> None:
    """Reports ``done`` units of ``total`` (``23 / 100 leads``) to the supervisor, which keeps
    throughput, per-unit latency and cost per unit. A no-op outside a supervised run."""
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise ConfigError(f"progress(done=...) takes a whole number >= 0, got {done!r}")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ConfigError(f"progress(total=...) takes a whole number >= 0 or None, got {total!r}")
    if not isinstance(unit, str) or not 0 < len(unit) <= 40:
        raise ConfigError(f"progress(unit=...) takes a short name like 'leads', got {unit!r}")
    send, spent = _send, _spent
    if send is not None and spent is not None:
        send({"t": "progress", "done": done, "total": total, "unit": unit, "spent": spent()})


def outcome(success: bool) -> None:
    """Reports whether one unit of work succeeded (the success rate). A no-op unsupervised."""
    send, spent = _send, _spent
    if send is not None and spent is not None:
        send({"t": "outcome", "success": bool(success), "spent": spent()})
