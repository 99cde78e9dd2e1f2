"""The wire format of the ``/api/v1`` API: every request and response model, for the server
and for ``iron_cage.client`` alike.

Pydantic only: nothing here imports FastAPI, SQLAlchemy or any other server dependency, so
the client works with ``pip install iron-cage`` alone (a test imports it with FastAPI made
unimportable).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from iron_cage.control_panel.money import MAX_USD

Usd = Annotated[Decimal, Field(ge=0, le=MAX_USD, allow_inf_nan=False, decimal_places=6)]
PositiveUsd = Annotated[Decimal, Field(gt=0, le=MAX_USD, allow_inf_nan=False, decimal_places=6)]
# super_user: read-only, sees only its own budgets (pools, agents) and usage.
Role = Literal["admin", "developer", "viewer", "super_user"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
]
Count = Annotated[int, Field(ge=0, le=10**12)]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class Model(BaseModel):
    """A request body: unknown fields are refused, and so is a NUL character in any text
    (PostgreSQL cannot store one; no name, key or description needs one)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: object) -> object:
        if _has_nul(data):
            raise ValueError("text may not contain NUL (U+0000) characters")
        return data


# --- auth ---------------------------------------------------------------------------------------
class LoginIn(Model):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class RefreshIn(Model):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    status: str
    created_at: datetime
    last_login_at: datetime | None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserOut


class RetiredKey(BaseModel):
    kid: str
    valid_until: datetime = Field(description="tokens it signed are refused after this")


class SigningKeyRotated(BaseModel):
    kid: str = Field(description="the key new access tokens are signed with")
    created_at: datetime
    retired: list[RetiredKey]


# --- users --------------------------------------------------------------------------------------
class UserIn(Model):
    email: Email
    name: Name
    role: Role = "developer"
    password: Annotated[str, StringConstraints(max_length=1000)] | None = None


class UserPatch(Model):
    name: Name | None = None
    role: Role | None = None


class UserCreated(BaseModel):
    user: UserOut
    password: str | None = Field(None, description="the one-time password, when the server generated it")


class PasswordOut(BaseModel):
    password: str


class PasswordChange(Model):
    current_password: Annotated[str, StringConstraints(max_length=1000)]
    new_password: Annotated[str, StringConstraints(max_length=1000)]


Environment = Literal["development", "staging", "production"]


# --- agents, tokens, budgets --------------------------------------------------------------------
Provider = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class AgentIn(Model):
    name: Name
    project: Name = "default"
    provider: Provider = "openai"
    owner_id: int | None = Field(None, ge=1, le=2**31 - 1, description="admins only; default: you")
    budget_usd: Usd | None = Field(
        None, description="admins; developers too when the allocation comes from pool_id"
    )
    pool_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="the owner's or one of their teams' budget pool to draw from"
    )


class AgentPatch(Model):
    name: Name | None = None
    project: Name | None = None
    provider: Provider | None = None


class BudgetOut(BaseModel):
    agent_id: int
    limit_usd: float
    spent_usd: float
    leased_usd: float
    available_usd: float
    pool_id: int | None = None


class AgentOut(BaseModel):
    id: int
    name: str
    owner_id: int
    project: str
    provider: str
    status: str
    created_at: datetime
    stop_requested: bool
    budget: BudgetOut


class BudgetSet(Model):
    limit_usd: Usd
    pool_id: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="move the allocation into this pool (null: out of any pool, admins); omit to keep",
    )


class PoolSet(Model):
    limit_usd: Usd


class PoolOut(BaseModel):
    """A developer's or team's pool: agents' allocations are drawn from it and never add up
    to more than its limit."""

    id: int
    user_id: int | None
    team_id: int | None
    limit_usd: float
    allocated_usd: float = Field(description="the sum of the allocations of the agents in the pool")
    unallocated_usd: float
    spent_usd: float = Field(description="what the pool's agents spent")
    leased_usd: float = Field(description="what the pool's agents hold in live leases")
    agent_ids: list[int]


class TeamIn(Model):
    name: Name


class TeamOut(BaseModel):
    id: int
    name: str
    member_ids: list[int]
    created_at: datetime


class MyBudgets(BaseModel):
    """What the caller may spend or watch: their pool, their teams' pools, their agents'
    allocations."""

    pools: list[PoolOut]
    agents: list[BudgetOut]


ModelName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$"),
]
ProviderName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
]


class ModelPolicy(Model):
    """Which models and providers may be called (null: any). Names as the price table spells
    them; a listed name also admits its dated snapshots (what the price table resolves to it)."""

    allowed_models: Annotated[list[ModelName], Field(max_length=200)] | None = None
    allowed_providers: Annotated[list[ProviderName], Field(max_length=20)] | None = None


class AgentPolicyOut(BaseModel):
    agent_id: int
    agent: ModelPolicy = Field(description="the agent's own lists")
    developer: ModelPolicy = Field(description="its owner's lists")
    effective: ModelPolicy = Field(description="what the runtime receives: both apply")


PiiAction = Literal["allow", "warn", "redact", "pseudonymize", "block"]
ReplyPiiAction = Literal["allow", "warn", "redact", "block"]
PiiEntityKey = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
]


class PiiPolicy(Model):
    """PII policies for what an agent's requests send (``egress``) and what its replies bring
    (``ingress``, no pseudonymize): an action per entity (``EMAIL``, ``API_KEY``, ...) and
    ``default`` for the rest; null: none. Each is a floor: per entity the runtime applies the
    stricter of it and the agent's own (allow < warn < pseudonymize < redact < block); an entity
    it does not name (without ``default``) keeps the agent's own action."""

    egress: Annotated[dict[PiiEntityKey, PiiAction], Field(max_length=64)] | None = None
    ingress: Annotated[dict[PiiEntityKey, ReplyPiiAction], Field(max_length=64)] | None = None

    @field_validator("egress", "ingress")
    @classmethod
    def _upper_case(cls, value: dict[str, PiiAction] | None) -> dict[str, PiiAction] | None:
        if value is None:
            return None
        return {("default" if k == "DEFAULT" else k): v for k, v in value.items()}


class AgentPiiPolicyOut(BaseModel):
    agent_id: int
    agent: PiiPolicy = Field(description="the agent's own policy")
    developer: PiiPolicy = Field(description="its owner's policy")
    effective: PiiPolicy = Field(description="what the runtime receives: per entity the stricter of both")


class UnauthorizedActionOut(BaseModel):
    id: int
    kind: str
    agent_id: int | None
    user_id: int | None
    role: str
    detail: str
    at: datetime


class TokenIn(Model):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    environment: Environment = Field(
        default="production", description="the environment whose secrets the token reads"
    )


class TokenOut(BaseModel):
    id: int
    agent_id: int
    name: str
    environment: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; only its SHA-256 is stored")
    info: TokenOut


# --- leasing ------------------------------------------------------------------------------------
# The one scheme a runtime and the server seal the provider key with (docs/protocol.md).
Scheme = Literal["x25519-hkdf-sha256-aes256gcm"]
SCHEME: Scheme = "x25519-hkdf-sha256-aes256gcm"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def b64url_bytes(text: str) -> bytes:
    """base64url without padding to bytes; ValueError (with the reason) for anything else."""
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding (A-Z, a-z, 0-9, '-' and '_')")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url without padding") from None


class KeyExchange(Model):
    """The runtime's half of the key exchange: a fresh X25519 public key for this answer."""

    scheme: Scheme
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the raw 32-byte X25519 public key, base64url without padding (43 characters)"
    )

    @field_validator("public_key")
    @classmethod
    def _thirty_two_bytes(cls, value: str) -> str:
        raw = b64url_bytes(value)
        if len(raw) != 32:
            raise ValueError(f"decodes to {len(raw)} bytes: an X25519 public key is 32 bytes")
        return value


class SealedKey(BaseModel):
    """The provider key sealed to the runtime's public key, for one lease (docs/protocol.md)."""

    scheme: Scheme
    ephemeral_public_key: str = Field(description="the server's fresh X25519 public key (32 bytes, b64url)")
    nonce: str = Field(description="the AES-256-GCM nonce (12 bytes, b64url)")
    ciphertext: str = Field(description="AES-256-GCM of the key's UTF-8 bytes, tag at the end (b64url)")


class HandshakeIn(Model):
    ic_token: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="or send it as 'Authorization: Bearer ic_...'"
    )
    requested_usd: PositiveUsd
    runtime: Annotated[str, StringConstraints(max_length=200)] = ""
    key_exchange: KeyExchange | None = Field(
        None, description="required when the agent has a provider key: the key comes back sealed to it"
    )


class LeaseLimits(BaseModel):
    """What the runtime enforces on every call: the agent's per-request limits (its own over
    global ones; null: none) and the models and providers it may call (null: any)."""

    max_cost_per_request_usd: float | None = None
    max_tokens_per_request: float | None = None
    max_requests_per_minute: float | None = None
    daily_usd: float | None = None
    allowed_models: list[str] | None = Field(
        default=None, description="names as the price table spells them; a dated snapshot of one passes too"
    )
    allowed_providers: list[str] | None = None
    pii_egress: dict[str, PiiAction] | None = Field(
        default=None,
        description="the PII policy for requests (entity or 'default' to action); the runtime applies "
        "per entity the stricter of it and its own",
    )
    pii_ingress: dict[str, ReplyPiiAction] | None = Field(
        default=None, description="the PII policy for replies, applied the same way"
    )


class LeaseOut(BaseModel):
    lease_id: str
    agent_id: int
    granted_usd: float
    spent_usd: float
    lease_remaining_usd: float
    remaining_usd: float = Field(description="what the allocation still has beyond live leases")
    expires_at: datetime
    ttl_s: float = Field(description="seconds until expires_at when this answer was made (clock-skew free)")
    status: str
    provider: str
    stop: bool = False
    stopped_by: str | None = Field(None, description="with stop: who stopped the agent")
    stopped_at: datetime | None = Field(None, description="with stop: when")
    limits: LeaseLimits = Field(default_factory=lambda: LeaseLimits())


class LeaseGrantOut(LeaseOut):
    """A handshake's or refresh's answer: the lease, and the agent's current provider key
    sealed to the runtime's ``key_exchange`` (null when the agent has no provider key)."""

    provider_key_sealed: SealedKey | None = None
    provider_base_url: str | None = None


Severity = Literal["low", "medium", "high", "critical"]


Direction = Literal["reply", "request"]
EgressAction = Literal["warn", "redacted", "pseudonymized", "blocked"]


class PiiFindingIn(Model):
    """One finding in a call's reply (``direction: reply``, the reply scanner's) or in what
    the call sent (``request``, with what the request policy did), as the runtime reports
    it: never the value."""

    entity: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,39}$")]
    severity: Severity
    start: int = Field(ge=0, le=2**40)
    end: int = Field(ge=0, le=2**40)
    value_hmac: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,128}$")] = Field(
        description="the runtime's keyed HMAC-SHA256 of the value, hex"
    )
    direction: Direction = "reply"
    action: EgressAction | None = Field(
        default=None, description="for request findings: what the request policy did"
    )

    @model_validator(mode="after")
    def _in_order(self) -> PiiFindingIn:
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.action is None) != (self.direction == "reply"):
            raise ValueError("a request finding carries its action; a reply finding has none")
        return self


# A report's status (docs/protocol.md, "Refused and failed calls"). Charged calls: ``ok``,
# ``error``, ``blocked`` (the reply was withheld for PII; still billed). Refused calls were never
# sent (cost 0); failed ones were sent and got no usable answer (cost 0 unless billed).
CallStatus = Literal[
    "ok",
    "error",
    "blocked",
    "refused_budget",
    "refused_limit",
    "refused_policy",
    "refused_stopped",
    "refused_tool",
    "blocked_pii",
    "breaker_open",
    "failed_upstream",
    "failed_timeout",
    "failed_connect",
]
REFUSED_STATUSES = frozenset(
    {
        "refused_budget",
        "refused_limit",
        "refused_policy",
        "refused_stopped",
        "refused_tool",
        "blocked_pii",
        "breaker_open",
    }
)
FAILED_STATUSES = frozenset({"failed_upstream", "failed_timeout", "failed_connect"})
# What /traces?status= also takes: every refused, or every failed, call.
StatusFilter = Literal[CallStatus, "refused", "failed"]
BreakerState = Literal["closed", "open", "half_open"]


class UsageIn(Model):
    request_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    provider: Annotated[str, StringConstraints(max_length=32)] = ""
    input_tokens: Count = 0
    output_tokens: Count = 0
    cached_tokens: Count = 0
    cost_usd: Usd
    latency_ms: Annotated[float, Field(ge=0, le=86_400_000, allow_inf_nan=False)] = 0.0
    pii_findings: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    breaker_state: BreakerState = "closed"
    status: CallStatus = "ok"
    reason: Annotated[str, StringConstraints(max_length=300)] = Field(
        "", description="why a call was refused or failed, in a few words (never a prompt or a value)"
    )
    count: Annotated[int, Field(ge=1, le=10**9)] = Field(
        1, description="identical refused or failed calls this report stands for (a retry storm is one)"
    )
    saved_usd: Usd | None = Field(
        None, description="breaker_open: what the refused calls would have cost at most"
    )
    occurred_at: datetime | None = None
    pii: Annotated[list[PiiFindingIn], Field(max_length=1000)] | None = Field(
        default=None,
        description="the findings behind pii_findings (the reply's), and those in what the call "
        "sent, one each (optional)",
    )

    @model_validator(mode="after")
    def _refusals_cost_nothing(self) -> UsageIn:
        if self.status in REFUSED_STATUSES and self.cost_usd != 0:
            raise ValueError(f"a {self.status} call was never sent, so its cost_usd must be 0")
        if self.status not in REFUSED_STATUSES | FAILED_STATUSES and (self.count != 1 or self.reason):
            raise ValueError("count and reason are for refused and failed calls only")
        if self.saved_usd is not None and self.status != "breaker_open":
            raise ValueError("saved_usd is for breaker_open reports only")
        return self

    @property
    def charged(self) -> bool:
        """A call that was made and counts as usage (not a refusal; a failure only if billed)."""
        return self.status not in REFUSED_STATUSES | FAILED_STATUSES or self.cost_usd > 0

    @property
    def reply_findings(self) -> int:
        """PII found in the reply: the reported count, or the listed reply findings if more."""
        return max(self.pii_findings, sum(1 for f in self.pii or () if f.direction == "reply"))


class RuntimeEventIn(Model):
    """Something a runtime saw happen, sent with its reports: a breaker's state change."""

    request_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    kind: Literal["breaker"]
    breaker: Annotated[str, StringConstraints(min_length=1, max_length=140)]
    model: Annotated[str, StringConstraints(max_length=100)] = ""
    provider: Annotated[str, StringConstraints(max_length=32)] = ""
    from_state: BreakerState
    to_state: BreakerState
    failures: int = Field(
        0, ge=0, le=2**31 - 1, description="for a change to open: the failures that tripped it"
    )
    occurred_at: datetime | None = None


class ReportIn(Model):
    lease_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    reports: Annotated[list[UsageIn], Field(max_length=1000)]
    events: Annotated[list[RuntimeEventIn], Field(max_length=1000)] = Field(
        default_factory=list, description="breaker transitions the runtime saw (optional)"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> ReportIn:
        if not self.reports and not self.events:
            raise ValueError("a report batch holds at least one report or event")
        return self


class ReportOut(BaseModel):
    accepted: int
    duplicates: int
    lease: LeaseOut


class RefreshLeaseIn(Model):
    lease_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    requested_usd: PositiveUsd
    key_exchange: KeyExchange | None = Field(
        None, description="required when the agent has a provider key: the current key comes back sealed"
    )


class ReturnIn(Model):
    lease_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]


class BudgetRequestIn(Model):
    agent_id: int = Field(ge=1, le=2**31 - 1)
    amount_usd: PositiveUsd
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class BudgetRequestOut(BaseModel):
    id: int
    agent_id: int
    requested_by: int
    amount_usd: float
    reason: str
    status: str
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime


# --- usage --------------------------------------------------------------------------------------
class UsageTotals(BaseModel):
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    pii_findings: int


class UsageGroup(UsageTotals):
    key: str


class UsagePoint(UsageTotals):
    bucket: datetime


class TraceOut(BaseModel):
    id: int
    request_id: str
    lease_id: str
    agent_id: int
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: float
    pii_findings: int
    breaker_state: str
    status: str
    reason: str = Field("", description="why a refused or failed call was refused or failed")
    count: int = Field(1, description="identical refused or failed calls this record stands for")
    saved_usd: float = Field(0.0, description="breaker_open: what the refused calls would have cost")
    occurred_at: datetime = Field(description="when the runtime says the call happened")
    received_at: datetime = Field(description="when the server recorded it; usage windows use this")


class PiiFindingOut(BaseModel):
    id: int
    agent_id: int
    lease_id: str
    request_id: str
    entity: str
    severity: str
    start: int
    end: int
    value_hmac: str
    direction: str
    action: str | None
    received_at: datetime


# --- provider keys and secrets ------------------------------------------------------------------
SecretValue = Annotated[str, StringConstraints(min_length=1, max_length=65536)]


class ProviderKeyIn(Model):
    provider: Provider
    key: SecretValue
    label: Annotated[str, StringConstraints(max_length=200)] = ""
    base_url: Annotated[str, StringConstraints(max_length=500, pattern=r"^(https?://\S+)?$")] = ""


class ProviderKeyOut(BaseModel):
    id: int
    provider: str
    label: str
    base_url: str
    masked: str
    created_at: datetime


SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,200}$")]


AgentIds = Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(max_length=1000)]
Projects = Annotated[list[Name], Field(max_length=1000)]


class SecretIn(Model):
    name: SecretName
    value: SecretValue
    environment: Environment = "production"
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    agent_ids: AgentIds = Field(
        default_factory=list, description="agents whose IC tokens (of this environment) may read it"
    )
    projects: Projects = Field(
        default_factory=list, description="projects whose agents' IC tokens (of this environment) may read it"
    )


class SecretUpdate(Model):
    value: SecretValue | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    agent_ids: AgentIds | None = Field(default=None, description="replaces the agents it is bound to")
    projects: Projects | None = Field(default=None, description="replaces the projects it is bound to")


class SecretOut(BaseModel):
    id: int
    name: str
    environment: str
    version: int
    masked: str
    description: str
    created_at: datetime
    updated_at: datetime
    deleted: bool
    agent_ids: list[int] = Field(default_factory=list, description="the agents bound (developers: theirs)")
    projects: list[str] = Field(default_factory=list)
    value: str | None = Field(
        default=None, description="an agent's own secret on GET /secrets/{id}; POST /secrets/{id}/reveal"
    )


class SecretAuditOut(BaseModel):
    id: int
    secret_id: int | None
    secret_name: str
    environment: str
    operation: str
    requester_role: str
    user_id: int | None
    agent_id: int | None
    success: bool
    error_message: str
    detail: str
    timestamp: datetime


# --- alerts and limits ----------------------------------------------------------------------------
class ChannelIn(Model):
    kind: Literal["webhook", "email"]
    target: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]

    @model_validator(mode="after")
    def _target_fits_kind(self) -> ChannelIn:
        if self.kind == "webhook" and not self.target.startswith(("http://", "https://")):
            raise ValueError("a webhook target is an http:// or https:// URL")
        if self.kind == "email" and ("@" not in self.target or " " in self.target):
            raise ValueError("an email target is an address like ops@example.com")
        return self


class ChannelOut(BaseModel):
    id: int
    kind: str
    target: str
    enabled: bool
    created_at: datetime


class AlertOut(BaseModel):
    id: int
    agent_id: int
    kind: str
    threshold_pct: int
    message: str
    recommended_action: str
    deliveries: str
    created_at: datetime


LimitKind = Literal[
    "max_cost_per_request_usd", "max_tokens_per_request", "max_requests_per_minute", "daily_usd"
]


class LimitIn(Model):
    agent_id: int | None = Field(None, ge=1, le=2**31 - 1, description="omit for a global limit")
    kind: LimitKind
    value: float = Field(gt=0, le=1e12, allow_inf_nan=False)


class LimitPatch(Model):
    value: float = Field(gt=0, le=1e12, allow_inf_nan=False)


class LimitOut(BaseModel):
    id: int
    agent_id: int | None
    kind: str
    value: float
    created_at: datetime
    updated_at: datetime


# --- supervised agent processes (iron-cage start) ---------------------------------------------------
ProcessState = Literal[
    "starting", "running", "stopping", "stopped", "crashed", "restarting", "budget_exhausted"
]
ProcessEvent = Literal["agent_started", "agent_stopped", "agent_crashed", "agent_restarted"]
Seconds = Annotated[float, Field(ge=0, le=10**9, allow_inf_nan=False)]


class ProcessIn(Model):
    """A supervisor's report of its agent process (IC token of the agent)."""

    local_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{1,4}-[0-9a-f]{8}$")]
    state: ProcessState
    pid: int | None = Field(None, ge=1, le=2**31 - 1)
    restarts: int = Field(0, ge=0, le=10**6)
    event: ProcessEvent | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] = ""
    spent_usd: Usd = Decimal(0)


class ProcessOut(BaseModel):
    agent_id: int
    local_id: str
    state: str
    pid: int | None
    restarts: int
    reason: str
    spent_usd: float
    updated_at: datetime
    stop: bool = Field(False, description="the agent was stopped: the supervisor stops its process")


class UnitLatency(Model):
    p50: Seconds
    p95: Seconds
    p99: Seconds


class MetricsIn(Model):
    """What ``ic.progress()``/``ic.outcome()`` added up to, as the supervisor computed it."""

    unit: Annotated[str, StringConstraints(min_length=1, max_length=40)] = "items"
    done: Count = 0
    total: Count | None = None
    successes: Count = 0
    failures: Count = 0
    success_rate: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    throughput_per_hour: Annotated[float, Field(ge=0, le=10**12, allow_inf_nan=False)] = 0.0
    latency_s: UnitLatency | None = None
    cost_per_unit_usd: Usd | None = None
    spent_usd: Usd = Decimal(0)
    budget_usd: Usd | None = None
    elapsed_s: Seconds = 0.0


class MetricsOut(MetricsIn):
    progress: str = Field(description="'23 / 100 leads'")
    throughput: str = Field(description="'212 leads/hour'")
    updated_at: datetime


class AgentMetricsOut(BaseModel):
    agent_id: int
    process: ProcessOut | None
    metrics: MetricsOut | None
    calls: CallMetricsOut | None = Field(
        None, description="from the calls the agent's runtimes reported (traces), whatever runs it"
    )


# --- dashboard: call metrics, trace detail, every IC token ---------------------------------------
class CallLatency(BaseModel):
    p50_ms: float
    p95_ms: float
    p99_ms: float


class CallMetricsOut(BaseModel):
    """An agent's calls in a window (received then), as its runtimes reported them."""

    since: datetime
    until: datetime
    requests: int
    succeeded: int = Field(description="calls with status ok")
    success_rate: float | None = Field(description="succeeded / requests; null without calls")
    input_tokens: int
    cached_tokens: int
    cache_hit_rate: float | None = Field(
        description="cached input tokens / input tokens (the providers' prompt cache); null without input"
    )
    cost_usd: float
    latency: CallLatency | None = Field(description="of the newest calls (up to 1000), nearest rank")
    first_call_at: datetime | None
    last_call_at: datetime | None
    calls_per_hour: float | None = Field(description="requests over the span first..last call")
    uptime_s: float | None = Field(
        description="how long the supervised process has run (its last metrics report), if supervised"
    )


class TraceDetailOut(TraceOut):
    agent_name: str
    pii: list[PiiFindingOut] = Field(description="the call's PII findings (never the values)")


class TokenListed(TokenOut):
    agent_name: str


AgentMetricsOut.model_rebuild()
