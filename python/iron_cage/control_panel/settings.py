"""Control Panel settings: constructor arguments, else environment variables, else defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from iron_cage._exceptions import ConfigError

DEFAULT_DATA_DIR = Path.home() / ".iron-cage"


def _env_int(name: str, default: int, least: int = 1) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise ConfigError(f"${name}={text!r}: use a whole number of at least {least} (default {default})")
    return value


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_DATA_DIR / 'control-panel.db'}"


@dataclass
class Settings:
    """How one Control Panel process runs. Replicas on PostgreSQL share everything through the database.

    ``database_url``: ``sqlite:///path.db`` (default ``~/.iron-cage/control-panel.db``) or
    ``postgresql+psycopg://user:pass@host/db``. ``master_key`` unlocks the provider-key and
    secrets cipher (``IRON_SECRETS_MASTER_KEY``); on SQLite a missing key is generated once
    and kept in ``<db>.master-key`` (mode 0600) beside the database file.
    """

    database_url: str = field(default_factory=lambda: os.environ.get("IRON_CAGE_DATABASE_URL") or "")
    master_key: str | None = field(default_factory=lambda: os.environ.get("IRON_SECRETS_MASTER_KEY"))
    admin_email: str | None = field(default_factory=lambda: os.environ.get("IRON_CAGE_ADMIN_EMAIL"))
    admin_password: str | None = field(default_factory=lambda: os.environ.get("IRON_CAGE_ADMIN_PASSWORD"))
    # The access-token signing key; without one the keys are kept in the database, encrypted
    # under the master key, and rotated with POST /api/v1/auth/signing-keys/rotate.
    jwt_key: str | None = field(default_factory=lambda: os.environ.get("IRON_CAGE_JWT_KEY") or None)
    jwt_previous_keys: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            k.strip() for k in os.environ.get("IRON_CAGE_JWT_PREVIOUS_KEYS", "").split(",") if k.strip()
        )
    )
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    bcrypt_rounds: int = 12
    # Failed logins (logins.py): per account and client address, per address, per account,
    # counted over lockout_s, which is also how long a lock lasts. Set by the environment
    # (IRON_CAGE_MAX_FAILED_LOGINS, ..._PER_ADDRESS, ..._PER_ACCOUNT, IRON_CAGE_LOCKOUT_S)
    # or `control-panel serve --max-failed-logins N --lockout SECONDS`.
    max_failed_logins: int = field(default_factory=lambda: _env_int("IRON_CAGE_MAX_FAILED_LOGINS", 5))
    max_failed_logins_per_address: int = field(
        default_factory=lambda: _env_int("IRON_CAGE_MAX_FAILED_LOGINS_PER_ADDRESS", 20)
    )
    max_failed_logins_per_account: int = field(
        default_factory=lambda: _env_int("IRON_CAGE_MAX_FAILED_LOGINS_PER_ACCOUNT", 50)
    )
    lockout_s: int = field(default_factory=lambda: _env_int("IRON_CAGE_LOCKOUT_S", 15 * 60))
    lease_ttl_s: int = 15 * 60
    # A runtime stops spending at expires_at; reports may still be in flight or queued in its
    # outbox, so the sweeper waits this long before it gives an expired lease's budget back.
    lease_grace_s: float = 60.0
    sweep_interval_s: float = 5.0
    max_usd: float = 1_000_000_000.0
    heartbeat_s: float = 15.0
    # A live /ws connection re-checks its access token and user this often and closes when
    # the token expired or the user was suspended, deleted, or had their role changed.
    ws_recheck_s: float = 5.0
    # Request bodies larger than this are refused with 413 before they are read; the auth
    # endpoints (login, refresh, logout: a few hundred bytes each) accept much less.
    max_body_bytes: int = 1 << 20
    max_auth_body_bytes: int = 16 << 10
    # Budget alerts fire once per threshold (percent of the allocation).
    alert_thresholds: tuple[int, ...] = (50, 75, 90, 100)
    # A PII alert fires at most once per agent and entity in each window of this many seconds
    # (windows start at multiples of it since the epoch: with 3600, at the top of each UTC hour).
    pii_alert_window_s: int = 3600
    smtp_host: str | None = field(default_factory=lambda: os.environ.get("IRON_CAGE_SMTP_HOST"))
    smtp_port: int = field(default_factory=lambda: int(os.environ.get("IRON_CAGE_SMTP_PORT", "25")))
    smtp_from: str = field(
        default_factory=lambda: os.environ.get("IRON_CAGE_SMTP_FROM", "iron-cage@localhost")
    )
    replica_name: str = field(default_factory=lambda: os.environ.get("IRON_CAGE_REPLICA", "cp-1"))
    # Origins whose browser pages may call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            o.strip() for o in os.environ.get("IRON_CAGE_CORS_ORIGINS", "").split(",") if o.strip()
        )
    )
    # Proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips): the login
    # limits count per that address.
    trusted_proxies: str = field(
        default_factory=lambda: os.environ.get("IRON_CAGE_TRUSTED_PROXIES", "127.0.0.1")
    )
    # The largest WebSocket message a client may send to /ws (it sends nothing the server reads).
    ws_max_bytes: int = 64 << 10

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = default_database_url()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[-1]
        return Path(path) if path and path != ":memory:" else None
