"""The Control Panel's tables (SQLAlchemy 2). Money is integer micro-USD; times are UTC.

Migrations in ``migrations/versions`` create exactly these tables; a test compares them.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ROLES = ("admin", "developer", "viewer", "super_user")

UTC = timezone.utc

# SQLite AUTOINCREMENT: a deleted row's id is never given to a new one (migration 0003).
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def new_token_stamp() -> str:
    return secrets.token_hex(16)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Process-wide values every replica must share (JWT signing key, cipher salt)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class User(Base):
    """``token_stamp`` changes whenever the user's access must end (password, role, suspension);
    access tokens carry it and stop working once it differs."""

    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    token_stamp: Mapped[str] = mapped_column(String(32), default=new_token_stamp, server_default="")
    # The models and providers this developer's agents may call: JSON lists, NULL for any
    # (migration 0007). An agent's own lists narrow them further.
    allowed_models: Mapped[str | None] = mapped_column(Text, nullable=True)
    allowed_providers: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The PII policies for what requests send and what replies bring: JSON maps of entity (or
    # "default") to action, NULL for none (migration 0011).
    pii_egress: Mapped[str | None] = mapped_column(Text, nullable=True)
    pii_ingress: Mapped[str | None] = mapped_column(Text, nullable=True)


class LoginAttempts(Base):
    """Failed logins counted per (account, client address), per address and per account, and
    the addresses an account logged in from (migration 0009). Keys are SHA-256 of the email
    and the address, so the table holds neither; ``account`` lets an admin's activate clear
    an account's rows."""

    __tablename__ = "login_attempts"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # pair, address, account, known
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class JwtKey(Base):
    """An access-token signing key, encrypted under the master key; the newest live one signs,
    a retired one still verifies the tokens it signed until they expire (migration 0009)."""

    __tablename__ = "jwt_keys"
    kid: Mapped[str] = mapped_column(String(40), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RefreshToken(Base):
    """Rotating refresh tokens, stored as SHA-256. Reusing a rotated one revokes its family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    project: Mapped[str] = mapped_column(String(200), default="default")
    provider: Mapped[str] = mapped_column(String(32), default="openai")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    stopped_by: Mapped[str | None] = mapped_column(String(320), nullable=True)  # migration 0012
    allowed_models: Mapped[str | None] = mapped_column(Text, nullable=True)
    allowed_providers: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The PII policies for what requests send and what replies bring: JSON maps of entity (or
    # "default") to action, NULL for none (migration 0011).
    pii_egress: Mapped[str | None] = mapped_column(Text, nullable=True)
    pii_ingress: Mapped[str | None] = mapped_column(Text, nullable=True)


class Team(Base):
    """A group of users with a budget pool of its own (migration 0007)."""

    __tablename__ = "teams"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class BudgetPool(Base):
    """What an admin allocated to a developer (``user_id``) or a team (``team_id``).

    Invariant: ``allocated <= limit``, where ``allocated`` is the sum of the allocations of the
    agents in the pool (their ``Budget.limit``); each agent's spent + leased stays within its
    own allocation, so the pool's do too. Every change is a conditional UPDATE on this row.
    """

    __tablename__ = "budget_pools"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="ck_budget_pools_one_owner"),
        NEVER_REUSE_IDS,
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    limit_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    allocated_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class UnauthorizedAction(Base):
    """Something a runtime or a person tried and was not allowed to do (a usage report for a
    model the agent may not call, ...), recorded even though the request was refused."""

    __tablename__ = "unauthorized_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class AgentProcess(Base):
    """The process an agent supervisor (``iron-cage start``) runs for the agent, and the work
    metrics its agent reports (``ic.progress``/``ic.outcome``), as last reported."""

    __tablename__ = "agent_processes"
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(20))
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    metrics_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class IcToken(Base):
    """An agent's credential: 256-bit random, shown once, stored as SHA-256."""

    __tablename__ = "ic_tokens"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    # The environment whose secrets this token reads (migration 0006).
    environment: Mapped[str] = mapped_column(String(32), default="production", server_default="production")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Budget(Base):
    """An agent's allocation. Invariant: spent + leased <= limit after every grant.

    ``leased`` is what live leases may still spend; a report moves cost from leased to
    spent, a return or expiry gives the unspent part back. ``last_grant`` is written by
    the grant UPDATE itself so the amount comes back from the same atomic statement.
    """

    __tablename__ = "budgets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), unique=True)
    limit_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    leased_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    last_grant_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    alerted_pct: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    # The developer's or team's pool this allocation is drawn from (NULL: allocated directly).
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("budget_pools.id"), nullable=True, index=True)


class Lease(Base):
    __tablename__ = "leases"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    granted_micros: Mapped[int] = mapped_column(BigInteger)
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    runtime: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    __table_args__ = (Index("ix_leases_status_expires", "status", "expires_at"),)


class UsageRecord(Base):
    """One LLM call reported by a runtime; ``request_id`` makes reports idempotent."""

    __tablename__ = "usage_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(100), unique=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    pii_findings: Mapped[int] = mapped_column(Integer, default=0)
    breaker_state: Mapped[str] = mapped_column(String(16), default="closed")
    status: Mapped[str] = mapped_column(String(16), default="ok")
    # Refused and failed calls (migration 0012): why, how many identical ones, what an open
    # breaker saved. They cost nothing and are left out of every usage total.
    reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    count: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    saved_micros: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The runtime's claim, shown in traces; every aggregate uses received_at (migration 0004).
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class PiiFinding(Base):
    """One PII finding a runtime reported with a call, in its reply or in what it sent (entity,
    severity, where, a keyed HMAC of the value: never the value), kept for audit."""

    __tablename__ = "pii_findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    lease_id: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger)
    value_hmac: Mapped[str] = mapped_column(String(128))
    # reply (the reply scanner) or request (the request policy, with its action): migration 0010.
    direction: Mapped[str] = mapped_column(String(8), default="reply", server_default="reply")
    action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class PiiAlertMark(Base):
    """That a PII alert fired for (agent, entity) in the window starting at ``window_start``:
    the primary key makes "once per window" hold across concurrent reports and replicas."""

    __tablename__ = "pii_alert_marks"
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)


class BudgetRequest(Base):
    __tablename__ = "budget_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ProviderKey(Base):
    """A provider API key, encrypted with the secrets cipher; released only at handshake."""

    __tablename__ = "provider_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str] = mapped_column(String(500), default="")
    ciphertext: Mapped[str] = mapped_column(Text)
    masked: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Secret(Base):
    __tablename__ = "secrets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(32), default="production")
    version: Mapped[int] = mapped_column(Integer, default=1)
    ciphertext: Mapped[str] = mapped_column(Text)
    masked: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    __table_args__ = (UniqueConstraint("name", "environment", name="uq_secrets_name_env"),)


class SecretBinding(Base):
    """Who may read a secret with an IC token: one agent, or every agent of one project (in the
    secret's environment, by a token of that environment). Exactly one of the two is set."""

    __tablename__ = "secret_bindings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret_id: Mapped[int] = mapped_column(ForeignKey("secrets.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=True, index=True
    )
    project: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    __table_args__ = (
        CheckConstraint("(agent_id IS NULL) <> (project IS NULL)", name="ck_secret_bindings_one_target"),
    )


class SecretAuditLog(Base):
    """Every secret operation, failed and refused ones included. Append-only: database
    triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on both backends."""

    __tablename__ = "secret_audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    secret_name: Mapped[str] = mapped_column(String(200), index=True)
    environment: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(16))
    requester_role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    success: Mapped[bool] = mapped_column(Boolean)
    error_message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class Limit(Base):
    """A limit runtimes receive with their lease: global (agent_id NULL) or per agent."""

    __tablename__ = "limits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    __table_args__ = (UniqueConstraint("agent_id", "kind", name="uq_limits_agent_kind"), NEVER_REUSE_IDS)


class AlertChannel(Base):
    """Where alerts go: a webhook URL or an email address."""

    __tablename__ = "alert_channels"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Alert(Base):
    """A fired alert (each budget threshold fires once per allocation level)."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    threshold_pct: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text)
    recommended_action: Mapped[str] = mapped_column(Text, default="")
    deliveries: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
