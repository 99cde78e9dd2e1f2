"""The lease protocol for runtimes (IC token) and budget-increase requests for people."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select
from sqlalchemy.orm import Session

from iron_cage.control_panel import leasing, policy, refusals
from iron_cage.control_panel.access import visible_agent
from iron_cage.control_panel.alerts import check_budget, check_pii
from iron_cage.control_panel.budgets import budget_of, publish_state
from iron_cage.control_panel.deps import (
    CP,
    Admin,
    AgentCaller,
    Db,
    Id,
    LeaseId,
    LeaseReader,
    Reader,
    Staff,
    TxRouter,
    agent_for_token,
    bearer,
)
from iron_cage.control_panel.errors import ApiError, bad_request, conflict, not_found, unauthorized
from iron_cage.control_panel.events import after_rollback, emit
from iron_cage.control_panel.models import Agent, BudgetRequest, Lease, ProviderKey
from iron_cage.control_panel.money import MAX_USD, micros, usd
from iron_cage.control_panel.pools import raise_allocation
from iron_cage.control_panel.provider_keys import current_key, release_audited, require_exchange, sealed_for
from iron_cage.control_panel.state import ControlPanel
from iron_cage.control_panel.wire import (
    BudgetRequestIn,
    BudgetRequestOut,
    HandshakeIn,
    KeyExchange,
    LeaseGrantOut,
    LeaseLimits,
    LeaseOut,
    RefreshLeaseIn,
    ReportIn,
    ReportOut,
    ReturnIn,
    UsageIn,
)

router = TxRouter(prefix="/budget", tags=["budget"])

UTC = timezone.utc


def lease_out(s: Session, lease: Lease) -> LeaseOut:
    agent = s.get(Agent, lease.agent_id)
    b = budget_of(s, lease.agent_id)
    assert agent is not None
    return LeaseOut(
        lease_id=lease.id,
        agent_id=lease.agent_id,
        granted_usd=usd(lease.granted_micros),
        spent_usd=usd(lease.spent_micros),
        lease_remaining_usd=usd(max(0, lease.granted_micros - lease.spent_micros)),
        remaining_usd=usd(max(0, b.limit_micros - b.spent_micros - b.leased_micros)),
        expires_at=lease.expires_at,
        ttl_s=max(0.0, (lease.expires_at - datetime.now(UTC)).total_seconds())
        if lease.status == "active"
        else 0.0,
        status=lease.status,
        provider=agent.provider,
        stop=agent.status != "active",
        stopped_by=agent.stopped_by if agent.status != "active" else None,
        stopped_at=agent.stop_requested_at if agent.status != "active" else None,
        limits=effective_limits(s, agent),
    )


def _stopped(agent: Agent) -> ApiError:
    """A stopped agent's handshake or refresh: who stopped it and when, for the runtime's error."""
    by = f" by {agent.stopped_by}" if agent.stopped_by else ""
    at = f" at {agent.stop_requested_at.isoformat()}" if agent.stop_requested_at else ""
    return ApiError(
        409,
        "agent_stopped",
        f"agent {agent.id} was stopped{by}{at}: no lease until an admin or its owner resumes it "
        f"(POST /api/v1/agents/{agent.id}/resume)",
        agent_id=agent.id,
        stopped_by=agent.stopped_by,
        stopped_at=agent.stop_requested_at.isoformat() if agent.stop_requested_at else None,
    )


def grant_out(
    cp: ControlPanel, s: Session, lease: Lease, key: ProviderKey | None, exchange: KeyExchange | None
) -> LeaseGrantOut:
    """A handshake's or refresh's answer: the lease and the current provider key, sealed."""
    return LeaseGrantOut(
        **lease_out(s, lease).model_dump(),
        provider_key_sealed=sealed_for(cp, key, exchange, lease.id),
        provider_base_url=(key.base_url or None) if key is not None else None,
    )


def effective_limits(s: Session, agent: Agent) -> LeaseLimits:
    out = leasing.limits_of(s, agent.id)
    allowed = policy.effective(s, agent)
    pii = policy.effective_pii(s, agent)
    return LeaseLimits(
        **out,
        allowed_models=allowed.allowed_models,
        allowed_providers=allowed.allowed_providers,
        pii_egress=pii.egress,
        pii_ingress=pii.ingress,
    )


@router.post("/handshake", status_code=201, responses={400: {}, 401: {}, 402: {}, 409: {}})
def handshake(
    body: HandshakeIn,
    cp: CP,
    s: Db,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> LeaseGrantOut:
    """Leases ``min(requested_usd, available)`` of the agent's allocation and seals the agent's
    provider key to the runtime's ``key_exchange``. The runtime enforces the lease locally
    until ``expires_at``."""
    token = body.ic_token or (creds.credentials if creds else None)
    if not token:
        raise unauthorized("send the IC token as ic_token or 'Authorization: Bearer ic_...'")
    who = agent_for_token(cp, token)
    assert who.agent_id is not None
    agent = policy.agent_with_owner(s, who.agent_id)
    assert agent is not None
    if agent.status != "active":
        raise _stopped(agent)
    key = current_key(s, agent.provider)
    with release_audited(cp, s, who, key):
        require_exchange(agent, key, body.key_exchange)
        requested = micros(body.requested_usd)
        lease = leasing.new_lease(s, agent.id, requested, cp.settings.lease_ttl_s, body.runtime)
        emit(
            s,
            "AGENT_EVENT",
            agent.id,
            agent.owner_id,
            event="lease_granted",
            lease_id=lease.id,
            granted_usd=usd(lease.granted_micros),
            runtime=body.runtime,
        )
        publish_state(s, agent)
        return grant_out(cp, s, lease, key, body.key_exchange)


@router.post("/report", responses={403: {}, 404: {}, 409: {}})
def report(body: ReportIn, who: AgentCaller, cp: CP, s: Db) -> ReportOut:
    """Records a batch of calls. Idempotent on each ``request_id``: a replayed report is
    counted once and answered as a duplicate."""
    assert who.agent_id is not None
    lease = leasing.owned_lease(s, body.lease_id, who.agent_id, lock=True)
    agent = s.get(Agent, lease.agent_id)
    assert agent is not None
    allowed = policy.effective(s, agent)
    for r in body.reports:
        if not refusals.exempt_from_model_policy(r) and (why := policy.refusal(allowed, r)) is not None:
            detail = f"usage report {r.request_id!r} on lease {lease.id!r}: {why}"
            record = partial(
                policy.record_unauthorized, cp, who, agent.id, agent.owner_id, "model_not_allowed", detail
            )
            after_rollback(s, record)
            raise ApiError(
                409,
                "model_not_allowed",
                f"{detail}: nothing in this batch was recorded; the call was made outside what an "
                "admin allowed this agent, which is recorded as an unauthorized action. A runtime "
                "refuses such calls itself (403 model_not_allowed): upgrade it if it made this one",
                request_id=r.request_id,
                model=r.model,
                allowed_models=allowed.allowed_models,
                allowed_providers=allowed.allowed_providers,
            )
    # A batch of breaker transitions only records no calls.
    result = (
        leasing.record_usage(cp.db, s, lease, body.reports)
        if body.reports
        else leasing.ReportResult(0, 0, set(), 0)
    )
    new = [r for r in body.reports if r.request_id in result.new_ids]
    refusals.after_report(s, who, agent, new, body.events)
    if charged := [r for r in new if r.charged]:
        _report_events(s, agent, lease, charged, result.cost, check_pii(cp, s, agent, charged))
        check_budget(cp, s, agent)
    return ReportOut(accepted=result.accepted, duplicates=result.duplicates, lease=lease_out(s, lease))


def _report_events(
    s: Session,
    agent: Agent,
    lease: Lease,
    reports: list[UsageIn],
    cost: int,
    pii_alerts: list[dict[str, Any]],
) -> None:
    a, o = agent.id, agent.owner_id
    emit(
        s,
        "AGENT_EVENT",
        a,
        o,
        event="usage",
        lease_id=lease.id,
        calls=len(reports),
        cost_usd=usd(cost),
        models=sorted({r.model for r in reports}),
    )
    pii = [r for r in reports if r.pii_findings or r.pii]
    if pii:
        emit(
            s,
            "PII_ALERT",
            a,
            o,
            findings=sum(r.reply_findings for r in pii),
            request_findings=sum(1 for r in pii for f in r.pii or () if f.direction == "request"),
            calls=len(pii),
            entities=sorted({f.entity for r in pii for f in r.pii or ()}),
            request_ids=[r.request_id for r in pii][:50],
            alerts=pii_alerts,
        )
    for model, state in sorted({(r.model, r.breaker_state) for r in reports if r.breaker_state != "closed"}):
        emit(s, "BREAKER_EVENT", a, o, model=model, state=state)
    publish_state(s, agent)


@router.post("/refresh", responses={400: {}, 402: {}, 403: {}, 404: {}, 410: {}})
def refresh(body: RefreshLeaseIn, who: AgentCaller, cp: CP, s: Db) -> LeaseGrantOut:
    """Adds up to ``requested_usd`` to a live lease, restarts its expiry clock, and seals the
    agent's current provider key to ``key_exchange`` (a key rotated in the vault reaches the
    runtime here)."""
    assert who.agent_id is not None
    lease = leasing.owned_lease(s, body.lease_id, who.agent_id)
    agent = s.get(Agent, who.agent_id)
    if agent is None:
        raise conflict(f"agent {who.agent_id} is gone: return the lease and stop")
    if agent.status != "active":
        raise _stopped(agent)
    key = current_key(s, agent.provider)
    with release_audited(cp, s, who, key):
        require_exchange(agent, key, body.key_exchange)
        granted = leasing.extend(s, lease, micros(body.requested_usd), cp.settings.lease_ttl_s)
        emit(
            s,
            "AGENT_EVENT",
            agent.id,
            agent.owner_id,
            event="lease_refreshed",
            lease_id=lease.id,
            granted_usd=usd(granted),
        )
        publish_state(s, agent)
        return grant_out(cp, s, lease, key, body.key_exchange)


@router.post("/return", responses={403: {}, 404: {}})
def return_lease(body: ReturnIn, who: AgentCaller, s: Db) -> LeaseOut:
    """Closes the lease and gives its unspent part back. Returning twice is harmless."""
    assert who.agent_id is not None
    lease = leasing.owned_lease(s, body.lease_id, who.agent_id)
    if leasing.close(s, lease, "returned"):
        agent = s.get(Agent, lease.agent_id)
        assert agent is not None
        emit(
            s,
            "AGENT_EVENT",
            agent.id,
            agent.owner_id,
            event="lease_returned",
            lease_id=lease.id,
            spent_usd=usd(lease.spent_micros),
        )
        publish_state(s, agent)
    return lease_out(s, lease)


@router.get("/leases")
def list_leases(
    who: Reader,
    s: Db,
    agent_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: Annotated[str | None, Query(pattern="^(active|returned|expired)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LeaseOut]:
    q = select(Lease).order_by(Lease.created_at.desc()).limit(limit)
    if agent_id is not None:
        visible_agent(s, who, agent_id)
        q = q.where(Lease.agent_id == agent_id)
    elif who.role == "developer":
        q = q.join(Agent, Agent.id == Lease.agent_id).where(Agent.owner_id == who.user_id)
    if status is not None:
        q = q.where(Lease.status == status)
    return [lease_out(s, lease) for lease in s.scalars(q)]


@router.get("/leases/{lease_id}", responses={403: {}, 404: {}})
def read_lease(lease_id: LeaseId, who: LeaseReader, s: Db) -> LeaseOut:
    """One lease; runtimes poll it to learn of a stop between reports."""
    lease = s.get(Lease, lease_id)
    if lease is None:
        raise ApiError(404, "lease_not_found", f"no lease {lease_id!r}")
    visible_agent(s, who, lease.agent_id)
    return lease_out(s, lease)


# --- budget increase requests ---------------------------------------------------------------------
def request_out(r: BudgetRequest) -> BudgetRequestOut:
    return BudgetRequestOut(
        id=r.id,
        agent_id=r.agent_id,
        requested_by=r.requested_by,
        amount_usd=usd(r.amount_micros),
        reason=r.reason,
        status=r.status,
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        created_at=r.created_at,
    )


@router.post("/requests", status_code=201, responses={403: {}, 404: {}})
def create_request(body: BudgetRequestIn, who: Staff, s: Db) -> BudgetRequestOut:
    """Asks for ``amount_usd`` more on an agent's allocation; an admin approves or rejects."""
    visible_agent(s, who, body.agent_id, write=True)
    assert who.user_id is not None
    r = BudgetRequest(
        agent_id=body.agent_id,
        requested_by=who.user_id,
        amount_micros=micros(body.amount_usd),
        reason=body.reason,
    )
    s.add(r)
    s.flush()
    return request_out(r)


@router.get("/requests")
def list_requests(
    who: Reader,
    s: Db,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = None,
) -> list[BudgetRequestOut]:
    q = select(BudgetRequest).order_by(BudgetRequest.id.desc())
    if who.role == "developer":
        q = q.join(Agent, Agent.id == BudgetRequest.agent_id).where(Agent.owner_id == who.user_id)
    if status is not None:
        q = q.where(BudgetRequest.status == status)
    return [request_out(r) for r in s.scalars(q)]


def _decide(s: Session, request_id: int, admin_id: int | None, status: str) -> BudgetRequest:
    r = s.get(BudgetRequest, request_id)
    if r is None:
        raise not_found(f"budget request {request_id}")
    if r.status != "pending":
        raise conflict(f"budget request {request_id} is already {r.status}")
    r.status = status
    r.decided_by = admin_id
    r.decided_at = datetime.now(UTC)
    return r


@router.post("/requests/{request_id}/approve", responses={404: {}, 409: {}})
def approve_request(request_id: Id, who: Admin, s: Db) -> BudgetRequestOut:
    """Approves and raises the agent's allocation by the requested amount, atomically (inside its
    pool when it has one: 409 ``pool_exceeded`` when the pool has not that much unallocated)."""
    r = _decide(s, request_id, who.user_id, "approved")
    if not raise_allocation(s, r.agent_id, r.amount_micros, micros(MAX_USD)):
        raise bad_request(f"the raised limit would exceed ${MAX_USD}: reject this request")
    agent = s.get(Agent, r.agent_id)
    assert agent is not None
    publish_state(s, agent)
    return request_out(r)


@router.post("/requests/{request_id}/reject", responses={404: {}, 409: {}})
def reject_request(request_id: Id, who: Admin, s: Db) -> BudgetRequestOut:
    return request_out(_decide(s, request_id, who.user_id, "rejected"))
