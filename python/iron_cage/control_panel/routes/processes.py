"""Supervised agent processes: a supervisor (``iron-cage start``) reports its agent's process
state and work metrics with the agent's IC token; people read them per agent.

A report with an ``event`` (``agent_started``, ``agent_stopped``, ``agent_crashed``,
``agent_restarted``) is published on ``/ws`` as an ``AGENT_EVENT``. The answer carries
``stop: true`` once someone stopped the agent (the dashboard's Stop button), and the
supervisor then stops its process gracefully.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import Query, Response
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from iron_cage.control_panel import refusals
from iron_cage.control_panel.access import visible_agent
from iron_cage.control_panel.db import SafeSum
from iron_cage.control_panel.deps import AgentCaller, AgentReader, Db, Id, TxRouter
from iron_cage.control_panel.errors import bad_request, not_found
from iron_cage.control_panel.events import emit
from iron_cage.control_panel.models import Agent, AgentProcess, UsageRecord
from iron_cage.control_panel.money import micros, usd
from iron_cage.control_panel.wire import (
    AgentMetricsOut,
    CallLatency,
    CallMetricsOut,
    MetricsIn,
    MetricsOut,
    ProcessIn,
    ProcessOut,
)

router = TxRouter(tags=["agents"])

UTC = timezone.utc


def process_out(a: Agent, p: AgentProcess) -> ProcessOut:
    return ProcessOut(
        agent_id=p.agent_id,
        local_id=p.local_id,
        state=p.state,
        pid=p.pid,
        restarts=p.restarts,
        reason=p.reason,
        spent_usd=usd(p.spent_micros),
        updated_at=p.updated_at,
        stop=a.stop_requested_at is not None,
    )


def _agent(s: Db, agent_id: int | None) -> Agent:
    a = s.get(Agent, agent_id) if agent_id is not None else None
    if a is None:
        raise not_found(f"agent {agent_id}")
    return a


@router.post("/runtime/process", responses={404: {}})
def report_process(body: ProcessIn, who: AgentCaller, s: Db) -> ProcessOut:
    """The supervisor's view of its agent process; answers ``stop`` when the agent was stopped."""
    a = _agent(s, who.agent_id)
    p = s.get(AgentProcess, a.id)
    if p is None:
        p = AgentProcess(agent_id=a.id, local_id=body.local_id, state=body.state)
        s.add(p)
    p.local_id = body.local_id
    p.state = body.state
    p.pid = body.pid
    p.restarts = body.restarts
    p.reason = body.reason
    p.spent_micros = micros(body.spent_usd)
    p.updated_at = datetime.now(UTC)
    s.flush()
    if body.event is not None:
        emit(
            s,
            "AGENT_EVENT",
            a.id,
            a.owner_id,
            event=body.event,
            agent=a.name,
            local_id=body.local_id,
            state=body.state,
            pid=body.pid,
            restarts=body.restarts,
            reason=body.reason,
        )
    return process_out(a, p)


def _label(unit: str, n: float) -> str:
    return f"{n:.0f} {unit}/hour"


@router.post("/runtime/metrics", status_code=204, responses={404: {}})
def report_metrics(body: MetricsIn, who: AgentCaller, s: Db) -> Response:
    """The agent's work metrics (progress, success rate, throughput, latency, cost per unit)."""
    a = _agent(s, who.agent_id)
    p = s.get(AgentProcess, a.id)
    if p is None:
        p = AgentProcess(agent_id=a.id, local_id="", state="running")
        s.add(p)
    p.metrics_json = body.model_dump_json()
    p.metrics_at = datetime.now(UTC)
    # Live panels follow progress without polling (the dashboard reads the rest from /metrics).
    emit(
        s,
        "AGENT_EVENT",
        a.id,
        a.owner_id,
        event="metrics",
        unit=body.unit,
        done=body.done,
        total=body.total,
        successes=body.successes,
        failures=body.failures,
    )
    return Response(status_code=204)


# Percentiles are taken over the newest calls only: a bounded read whatever the history.
LATENCY_SAMPLE = 1000


def nearest_rank(sorted_values: list[float], pct: float) -> float:
    """The nearest-rank percentile of an ascending, non-empty list."""
    return sorted_values[max(0, math.ceil(pct / 100 * len(sorted_values)) - 1)]


def call_metrics(s: Session, agent_id: int, start: datetime, end: datetime) -> CallMetricsOut:
    window = (
        UsageRecord.agent_id == agent_id,
        UsageRecord.received_at >= start,
        UsageRecord.received_at < end,
        refusals.counted(),  # refused and failed calls are not usage
    )
    n, ok, inp, cached, cost, first, last = s.execute(
        select(
            func.count(UsageRecord.id),
            SafeSum(case((UsageRecord.status == "ok", 1), else_=0)),
            SafeSum(UsageRecord.input_tokens),
            SafeSum(UsageRecord.cached_tokens),
            SafeSum(UsageRecord.cost_micros),
            func.min(UsageRecord.received_at),
            func.max(UsageRecord.received_at),
        ).where(*window)
    ).one()
    latencies = sorted(
        s.scalars(
            select(UsageRecord.latency_ms)
            .where(*window)
            .order_by(UsageRecord.id.desc())
            .limit(LATENCY_SAMPLE)
        )
    )
    latency = (
        CallLatency(
            p50_ms=nearest_rank(latencies, 50),
            p95_ms=nearest_rank(latencies, 95),
            p99_ms=nearest_rank(latencies, 99),
        )
        if latencies
        else None
    )
    span_h = (last - first).total_seconds() / 3600 if n > 1 else 0.0
    return CallMetricsOut(
        since=start,
        until=end,
        requests=int(n),
        succeeded=int(ok),
        success_rate=int(ok) / int(n) if n else None,
        input_tokens=int(inp),
        cached_tokens=int(cached),
        cache_hit_rate=min(1.0, int(cached) / int(inp)) if inp else None,
        cost_usd=usd(int(cost)),
        latency=latency,
        first_call_at=first,
        last_call_at=last,
        calls_per_hour=int(n) / span_h if span_h > 0 else None,
        uptime_s=None,
    )


@router.get("/agents/{agent_id}/metrics", responses={400: {}, 403: {}, 404: {}})
def read_metrics(
    agent_id: Id,
    who: AgentReader,
    s: Db,
    since: Annotated[
        datetime | None, Query(description="calls received since (ISO 8601); default: 30 days ago")
    ] = None,
) -> AgentMetricsOut:
    """Progress (``23 / 100 leads``), success rate, throughput (``212 leads/hour``), per-unit
    latency p50/p95/p99 and cost per unit of the agent's supervised process (``metrics``, as its
    supervisor last reported them), and the agent's calls (``calls``: success rate, cache hit
    rate, call latency percentiles, calls per hour), whatever runs the agent."""
    a = visible_agent(s, who, agent_id)
    end = datetime.now(UTC) + timedelta(seconds=1)
    start = (since if since.tzinfo else since.replace(tzinfo=UTC)) if since else end - timedelta(days=30)
    if start >= end:
        raise bad_request("since must be in the past")
    calls = call_metrics(s, a.id, start, end)
    p = s.get(AgentProcess, a.id)
    if p is None:
        return AgentMetricsOut(agent_id=a.id, process=None, metrics=None, calls=calls)
    metrics = None
    if p.metrics_json is not None and p.metrics_at is not None:
        m = MetricsIn.model_validate(json.loads(p.metrics_json))
        total = f" / {m.total}" if m.total is not None else ""
        metrics = MetricsOut(
            **m.model_dump(),
            progress=f"{m.done}{total} {m.unit}",
            throughput=_label(m.unit, m.throughput_per_hour),
            updated_at=p.metrics_at,
        )
        if p.state == "running":
            calls.uptime_s = m.elapsed_s
    process = process_out(a, p) if p.local_id else None
    return AgentMetricsOut(agent_id=a.id, process=process, metrics=metrics, calls=calls)
