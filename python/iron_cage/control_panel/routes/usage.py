"""Usage analytics (totals, breakdowns, time series) and per-request traces.

Everything is placed in time by when the server received the report (``received_at``), not
by the runtime's ``occurred_at``: a reporter cannot move spend out of a window by
back-dating it (or into the future). Traces show both.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iron_cage.control_panel import refusals
from iron_cage.control_panel.access import visible_agent
from iron_cage.control_panel.db import SafeSum
from iron_cage.control_panel.deps import Db, Id, Person, Reader, TxRouter
from iron_cage.control_panel.errors import bad_request, not_found
from iron_cage.control_panel.models import Agent, PiiFinding, UsageRecord, User
from iron_cage.control_panel.money import usd
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.wire import (
    Direction,
    PiiFindingOut,
    StatusFilter,
    TraceDetailOut,
    TraceOut,
    UsageGroup,
    UsagePoint,
    UsageTotals,
)

router = TxRouter(tags=["usage"])

Since = Annotated[
    datetime | None,
    Query(description="inclusive, ISO 8601, of when reports were received; default: 30 days ago"),
]
Until = Annotated[datetime | None, Query(description="exclusive, ISO 8601; default: now")]
AgentFilter = Annotated[int | None, Query(ge=1, le=2**31 - 1)]

# Sums that cannot overflow: a total past 2^63 is still an answer, not an error.
_TOTALS = (
    func.count(UsageRecord.id),
    SafeSum(UsageRecord.input_tokens),
    SafeSum(UsageRecord.output_tokens),
    SafeSum(UsageRecord.cost_micros),
    SafeSum(UsageRecord.pii_findings),
)

UTC = timezone.utc


def _totals(row: Any) -> dict[str, Any]:
    return {
        "requests": int(row[0]),
        "input_tokens": int(row[1]),
        "output_tokens": int(row[2]),
        "cost_usd": usd(int(row[3])),
        "pii_findings": int(row[4]),
    }


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    def aware(d: datetime) -> datetime:
        return d if d.tzinfo else d.replace(tzinfo=UTC)

    end = aware(until) if until else datetime.now(UTC) + timedelta(seconds=1)
    start = aware(since) if since else end - timedelta(days=30)
    if start >= end:
        raise bad_request("since must be before until")
    return start, end


def _scoped(
    q: Any,
    s: Session,
    who: Principal,
    agent_id: int | None,
    start: datetime,
    end: datetime,
    *,
    usage: bool = True,
) -> Any:
    """``q`` within the window and what ``who`` sees; with ``usage``, charged calls only
    (refused and failed ones are listed in traces, never usage)."""
    q = q.where(UsageRecord.received_at >= start, UsageRecord.received_at < end)
    if usage:
        q = q.where(refusals.counted())
    if agent_id is not None:
        visible_agent(s, who, agent_id)
        q = q.where(UsageRecord.agent_id == agent_id)
    elif who.role in ("developer", "super_user"):
        q = q.where(UsageRecord.agent_id.in_(select(Agent.id).where(Agent.owner_id == who.user_id)))
    return q


@router.get("/usage/summary")
def usage_summary(
    who: Person, s: Db, since: Since = None, until: Until = None, agent_id: AgentFilter = None
) -> UsageTotals:
    start, end = _window(since, until)
    row = s.execute(_scoped(select(*_TOTALS), s, who, agent_id, start, end)).one()
    return UsageTotals(**_totals(row))


GroupBy = Literal["developer", "agent", "project", "provider", "model"]


@router.get("/usage/breakdown")
def usage_breakdown(
    who: Person,
    s: Db,
    by: GroupBy = "model",
    since: Since = None,
    until: Until = None,
    agent_id: AgentFilter = None,
) -> list[UsageGroup]:
    """Totals grouped by developer (email), agent (id), project, provider or model, costliest first."""
    start, end = _window(since, until)
    key: Any
    q: Any
    if by in ("developer", "agent", "project"):
        key = {"developer": User.email, "agent": Agent.id, "project": Agent.project}[by]
        q = select(key, *_TOTALS).join(Agent, Agent.id == UsageRecord.agent_id)
        if by == "developer":
            q = q.join(User, User.id == Agent.owner_id)
    else:
        key = {"provider": UsageRecord.provider, "model": UsageRecord.model}[by]
        q = select(key, *_TOTALS)
    q = (
        _scoped(q, s, who, agent_id, start, end)
        .group_by(key)
        .order_by(SafeSum(UsageRecord.cost_micros).desc())
    )
    return [UsageGroup(key=str(row[0]), **_totals(row[1:])) for row in s.execute(q)]


@router.get("/usage/timeseries")
def usage_timeseries(
    who: Person,
    s: Db,
    bucket: Literal["hour", "day"] = "hour",
    since: Since = None,
    until: Until = None,
    agent_id: AgentFilter = None,
) -> list[UsagePoint]:
    """Totals per hour or day (UTC) of receipt, oldest first; empty buckets are left out."""
    start, end = _window(since, until)
    rows = s.execute(
        _scoped(
            select(
                UsageRecord.received_at,
                UsageRecord.input_tokens,
                UsageRecord.output_tokens,
                UsageRecord.cost_micros,
                UsageRecord.pii_findings,
            ),
            s,
            who,
            agent_id,
            start,
            end,
        ).order_by(UsageRecord.received_at)
    )
    # Bucketing in Python keeps one query for both backends (no date_trunc vs strftime).
    points: dict[datetime, list[int]] = {}
    for at, inp, out, cost, pii in rows:
        key = at.replace(minute=0, second=0, microsecond=0)
        if bucket == "day":
            key = key.replace(hour=0)
        acc = points.setdefault(key, [0, 0, 0, 0, 0])
        acc[0] += 1
        acc[1] += inp
        acc[2] += out
        acc[3] += cost
        acc[4] += pii
    return [UsagePoint(bucket=k, **_totals(v)) for k, v in points.items()]


@router.get("/traces")
def traces(
    who: Reader,
    s: Db,
    agent_id: AgentFilter = None,
    model: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[
        StatusFilter | None,
        Query(description="one status, or refused / failed for every refused or failed call"),
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="page: ids below this one")
    ] = None,
) -> list[TraceOut]:
    """Per-request records, newest first (model, tokens, cost, latency, PII findings, breaker state),
    refused and failed calls too (with their reason and how many identical calls each stands for)."""
    start, end = _window(since, until)
    q = (
        _scoped(select(UsageRecord), s, who, agent_id, start, end, usage=False)
        .order_by(UsageRecord.id.desc())
        .limit(limit)
    )
    if model is not None:
        q = q.where(UsageRecord.model == model)
    if status is not None:
        q = q.where(refusals.status_filter(status))
    if before_id is not None:
        q = q.where(UsageRecord.id < before_id)
    return [_trace(r) for r in s.scalars(q)]


def _trace(r: UsageRecord) -> TraceOut:
    return TraceOut(
        id=r.id,
        request_id=r.request_id,
        lease_id=r.lease_id,
        agent_id=r.agent_id,
        provider=r.provider,
        model=r.model,
        input_tokens=r.input_tokens,
        output_tokens=r.output_tokens,
        cached_tokens=r.cached_tokens,
        cost_usd=usd(r.cost_micros),
        latency_ms=r.latency_ms,
        pii_findings=r.pii_findings,
        breaker_state=r.breaker_state,
        status=r.status,
        reason=r.reason,
        count=r.count,
        saved_usd=usd(r.saved_micros),
        occurred_at=r.occurred_at,
        received_at=r.received_at,
    )


@router.get("/traces/{trace_id}", responses={403: {}, 404: {}})
def trace(trace_id: Id, who: Reader, s: Db) -> TraceDetailOut:
    """One call: what ``/traces`` lists, the agent's name, and the call's PII findings."""
    r = s.get(UsageRecord, trace_id)
    if r is None:
        raise not_found(f"trace {trace_id}")
    a = visible_agent(s, who, r.agent_id)
    q = (
        select(PiiFinding)
        .where(PiiFinding.request_id == r.request_id, PiiFinding.agent_id == r.agent_id)
        .order_by(PiiFinding.id)
    )
    pii = [PiiFindingOut.model_validate(f, from_attributes=True) for f in s.scalars(q)]
    return TraceDetailOut(**_trace(r).model_dump(), agent_name=a.name, pii=pii)


@router.get("/pii/findings")
def pii_findings(
    who: Reader,
    s: Db,
    agent_id: AgentFilter = None,
    entity: Annotated[str | None, Query(pattern=r"^[A-Z][A-Z0-9_]{0,39}$")] = None,
    direction: Annotated[Direction | None, Query()] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PiiFindingOut]:
    """PII found in agents' replies (``direction=reply``) and in what they sent
    (``request``, with the action taken), one row per finding (entity, severity, position,
    a keyed HMAC of the value: never the value), newest first."""
    start, end = _window(since, until)
    q = select(PiiFinding).where(PiiFinding.received_at >= start, PiiFinding.received_at < end)
    if agent_id is not None:
        visible_agent(s, who, agent_id)
        q = q.where(PiiFinding.agent_id == agent_id)
    elif who.role == "developer":
        q = q.where(PiiFinding.agent_id.in_(select(Agent.id).where(Agent.owner_id == who.user_id)))
    if entity is not None:
        q = q.where(PiiFinding.entity == entity)
    if direction is not None:
        q = q.where(PiiFinding.direction == direction)
    q = q.order_by(PiiFinding.id.desc()).limit(limit)
    return [PiiFindingOut.model_validate(f, from_attributes=True) for f in s.scalars(q)]
