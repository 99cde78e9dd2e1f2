"""Supervised agent processes: a supervisor (``iron-cage start``) reports its agent's process
state and work metrics with the agent's IC token; people read them per agent.

A report with an ``event`` (``agent_started``, ``agent_stopped``, ``agent_crashed``,
``agent_restarted``) is published on ``/ws`` as an ``AGENT_EVENT``. The answer carries
``stop: true`` once someone stopped the agent (the dashboard's Stop button), and the
supervisor then stops its process gracefully.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from fastapi import Response

from iron_cage.control_panel.access import visible_agent
from iron_cage.control_panel.deps import AgentCaller, AgentReader, Db, Id, TxRouter
from iron_cage.control_panel.errors import not_found
from iron_cage.control_panel.events import emit
from iron_cage.control_panel.models import Agent, AgentProcess
from iron_cage.control_panel.money import micros, usd
from iron_cage.control_panel.wire import AgentMetricsOut, MetricsIn, MetricsOut, ProcessIn, ProcessOut

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
    return Response(status_code=204)


@router.get("/agents/{agent_id}/metrics", responses={403: {}, 404: {}})
def read_metrics(agent_id: Id, who: AgentReader, s: Db) -> AgentMetricsOut:
    """Progress (``23 / 100 leads``), success rate, throughput (``212 leads/hour``), per-unit
    latency p50/p95/p99 and cost per unit of the agent's supervised process."""
    a = visible_agent(s, who, agent_id)
    p = s.get(AgentProcess, a.id)
    if p is None:
        return AgentMetricsOut(agent_id=a.id, process=None, metrics=None)
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
    return AgentMetricsOut(agent_id=a.id, process=process_out(a, p) if p.local_id else None, metrics=metrics)
