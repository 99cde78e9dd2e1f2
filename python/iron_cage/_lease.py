"""Control Panel mode: a budget lease from the server, enforced locally (the Rust lease client).

``AgentRuntime(control_panel=URL, ic_token=...)`` and ``LlmRouter(control_panel=URL,
api_key=IC token)`` hold one :class:`ControlPanelLease`: it handshakes at start, makes
the runtime's budget follow the lease, queues a usage report for every call in a
SQLite outbox (replayed after an outage or a restart, counted once by the server),
refreshes the lease when it runs low, and returns it on close.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from iron_cage import _core
from iron_cage._exceptions import ConfigError

OUTBOX_DIR_ENV = "IRON_CAGE_OUTBOX_DIR"
SERVER_ENV = "IRON_CAGE_CONTROL_PANEL"
TOKEN_ENV = "IRON_CAGE_IC_TOKEN"
# The older names, read when the new ones are unset.
SERVER_ENV_OLD = "IRON_CAGE_SERVER_URL"
TOKEN_ENV_OLD = "IRON_CAGE_TOKEN"


ServerArg = str | Sequence[str]
"""One Control Panel URL, several replicas' URLs, or a comma-separated string of them."""


def default_outbox(server_url: str, ic_token: str) -> Path:
    """One outbox per (server, token): the next run with the same token replays what is left.

    With several replicas the first URL names it, so adding replicas to a single-URL
    setup keeps its outbox (and what is queued in it)."""
    base = Path(os.environ.get(OUTBOX_DIR_ENV) or Path.home() / ".iron-cage" / "outbox")
    first = server_url.split(",")[0].strip()
    digest = hashlib.sha256(f"{first}\n{ic_token}".encode()).hexdigest()[:16]
    return base / f"{digest}.db"


def server_urls(server_url: ServerArg) -> list[str]:
    """The replicas' URLs of ``control_panel=`` (a list, or a comma-separated string)."""
    parts = server_url.split(",") if isinstance(server_url, str) else list(server_url)
    urls = []
    for url in parts:
        if not isinstance(url, str):
            raise ConfigError(f"a Control Panel URL must be a string, got {url!r}")
        url = url.strip()
        if not url:
            continue
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"the Control Panel URL must start with http:// or https://, got {url!r}")
        urls.append(url)
    if not urls:
        raise ConfigError(f"no Control Panel URL in {server_url!r}: give one, or several separated by commas")
    return urls


def resolve(server_url: ServerArg | None, ic_token: str | None, what: str) -> tuple[str, str] | None:
    """(server URLs comma-separated, ic_token) from the arguments or the environment;
    None for local mode."""
    if server_url is None and ic_token is None:
        return None
    server_url = server_url or os.environ.get(SERVER_ENV) or os.environ.get(SERVER_ENV_OLD)
    ic_token = ic_token or os.environ.get(TOKEN_ENV) or os.environ.get(TOKEN_ENV_OLD)
    if not server_url or not ic_token:
        raise ConfigError(
            f"Control Panel mode needs both {what}: pass them, or set ${SERVER_ENV} and ${TOKEN_ENV}"
        )
    return ",".join(server_urls(server_url)), ic_token


def leased_budget(budget: object, arg: str, name: str) -> _core.Budget:
    """The local budget a lease drives (its limit follows the lease). In Control Panel
    mode ``budget=`` is the USD to lease at a time, so it must be a number."""
    if isinstance(budget, (_core.Budget, bool)) or not isinstance(budget, (int, float, str, Decimal)):
        raise ConfigError(f"with {arg}, budget= is the USD to lease at a time (a number)")
    return _core.Budget(0, name=name)


class ControlPanelLease:
    """The lease behind a runtime's budget. ``budget`` is the ``ic.Budget`` whose limit it drives."""

    def __init__(
        self,
        budget: _core.Budget,
        server_url: str,
        ic_token: str,
        *,
        slice_usd: float | int | str | Decimal = 10.0,
        outbox_path: str | os.PathLike[str] | None = None,
        refresh_below: float = 0.25,
        flush_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        runtime: str = "",
    ) -> None:
        self.server_url = server_url
        self.outbox_path = (
            Path(outbox_path) if outbox_path is not None else default_outbox(server_url, ic_token)
        )
        self._core = _core.LeaseClientCore(
            budget,
            server_url,
            ic_token,
            slice_usd=slice_usd,
            outbox_path=self.outbox_path,
            refresh_below=refresh_below,
            flush_interval_s=flush_interval_s,
            timeout_s=timeout_s,
            runtime=runtime,
        )

    def attach(self, core: _core.GovernorCore | _core.RouterCore) -> None:
        self._core.attach(core)

    @property
    def lease_id(self) -> str:
        return self._core.lease_id

    @property
    def has_provider_key(self) -> bool:
        """Whether the server released a provider key. It is sealed to this runtime's
        Rust core and held there: no Python object ever holds it."""
        return self._core.has_provider_key

    @property
    def provider(self) -> str:
        return self._core.provider

    @property
    def provider_base_url(self) -> str | None:
        return self._core.provider_base_url

    @property
    def stop_requested(self) -> bool:
        """The Control Panel stopped this agent; the budget admits nothing new."""
        return self._core.stop_requested

    @property
    def pending_reports(self) -> int:
        return self._core.pending_reports

    def status(self) -> dict[str, Any]:
        """Connected, the current replica (``server``), all of them (``servers``), the number
        of failovers and the last one, lease id and grant, pending and sent reports, last error."""
        result: dict[str, Any] = json.loads(self._core.status_json())
        return result

    def flush(self) -> bool:
        """Sends queued reports now; True when none are left."""
        return self._core.flush()

    def close(self) -> None:
        """Flushes and returns the lease; what cannot be sent stays in the outbox. Idempotent."""
        self._core.close()

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)
        return f"ControlPanelLease({self.server_url!r}, lease_id={core.lease_id if core else None!r})"
