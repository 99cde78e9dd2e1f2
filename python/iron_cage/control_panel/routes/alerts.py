"""Alert channels (webhook, email), fired alerts, and limits."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from iron_cage.control_panel.access import visible_agent
from iron_cage.control_panel.deps import Admin, Db, Id, Reader, TxRouter
from iron_cage.control_panel.errors import bad_request, conflict, not_found
from iron_cage.control_panel.models import Agent, Alert, AlertChannel, Limit
from iron_cage.control_panel.wire import AlertOut, ChannelIn, ChannelOut, LimitIn, LimitOut, LimitPatch

router = TxRouter(tags=["alerts and limits"])
UTC = timezone.utc


@router.get("/alerts/channels")
def list_channels(_: Admin, s: Db) -> list[ChannelOut]:
    return [ChannelOut.model_validate(c, from_attributes=True) for c in s.scalars(select(AlertChannel))]


@router.post("/alerts/channels", status_code=201)
def add_channel(body: ChannelIn, _: Admin, s: Db) -> ChannelOut:
    """Alerts go to every enabled channel: webhooks get the alert as JSON, addresses an email."""
    c = AlertChannel(kind=body.kind, target=body.target)
    s.add(c)
    s.flush()
    return ChannelOut.model_validate(c, from_attributes=True)


@router.delete("/alerts/channels/{channel_id}", status_code=204, responses={404: {}})
def delete_channel(channel_id: Id, _: Admin, s: Db) -> Response:
    c = s.get(AlertChannel, channel_id)
    if c is None:
        raise not_found(f"alert channel {channel_id}")
    s.delete(c)
    return Response(status_code=204)


@router.get("/alerts")
def list_alerts(
    who: Reader,
    s: Db,
    agent_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertOut]:
    """Fired alerts, newest first, each with its recommended action and delivery results."""
    q = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if agent_id is not None:
        visible_agent(s, who, agent_id)
        q = q.where(Alert.agent_id == agent_id)
    elif who.role == "developer":
        q = q.where(Alert.agent_id.in_(select(Agent.id).where(Agent.owner_id == who.user_id)))
    return [AlertOut.model_validate(a, from_attributes=True) for a in s.scalars(q)]


# --- limits ---------------------------------------------------------------------------------------
def _limit(s: Session, limit_id: int) -> Limit:
    x = s.get(Limit, limit_id)
    if x is None:
        raise not_found(f"limit {limit_id}")
    return x


@router.get("/limits", responses={403: {}, 404: {}})
def list_limits(
    who: Reader, s: Db, agent_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> list[LimitOut]:
    """Global limits and agents' own; an agent's (``agent_id``) are its own and the global ones.
    Developers see the global limits and their own agents' only."""
    q = select(Limit).order_by(Limit.id)
    if agent_id is not None:
        visible_agent(s, who, agent_id)
        q = q.where((Limit.agent_id == agent_id) | Limit.agent_id.is_(None))
    elif who.role == "developer":
        mine = select(Agent.id).where(Agent.owner_id == who.user_id)
        q = q.where(Limit.agent_id.is_(None) | Limit.agent_id.in_(mine))
    return [LimitOut.model_validate(x, from_attributes=True) for x in s.scalars(q)]


@router.post("/limits", status_code=201, responses={400: {}, 409: {}})
def create_limit(body: LimitIn, _: Admin, s: Db) -> LimitOut:
    """One limit per (agent or global, kind); runtimes receive them with their lease."""
    if body.agent_id is not None and s.get(Agent, body.agent_id) is None:
        raise bad_request(f"agent {body.agent_id} does not exist")
    dup = select(Limit.id).where(Limit.kind == body.kind)
    dup = dup.where(Limit.agent_id == body.agent_id) if body.agent_id else dup.where(Limit.agent_id.is_(None))
    if (existing := s.scalar(dup)) is not None:
        raise conflict(f"this limit exists: PATCH /api/v1/limits/{existing}")
    x = Limit(agent_id=body.agent_id, kind=body.kind, value=body.value)
    s.add(x)
    s.flush()
    return LimitOut.model_validate(x, from_attributes=True)


@router.get("/limits/{limit_id}", responses={403: {}, 404: {}})
def read_limit(limit_id: Id, who: Reader, s: Db) -> LimitOut:
    x = _limit(s, limit_id)
    if x.agent_id is not None:
        visible_agent(s, who, x.agent_id)
    return LimitOut.model_validate(x, from_attributes=True)


@router.patch("/limits/{limit_id}", responses={404: {}})
def update_limit(limit_id: Id, body: LimitPatch, _: Admin, s: Db) -> LimitOut:
    return _set_limit(s, limit_id, body)


@router.put("/limits/{limit_id}", responses={404: {}})
def replace_limit(limit_id: Id, body: LimitPatch, _: Admin, s: Db) -> LimitOut:
    """The same as ``PATCH``: a limit's value is all it has to change (its kind and agent are
    what it is; another kind or agent is another limit)."""
    return _set_limit(s, limit_id, body)


def _set_limit(s: Session, limit_id: int, body: LimitPatch) -> LimitOut:
    x = _limit(s, limit_id)
    x.value = body.value
    x.updated_at = datetime.now(UTC)
    return LimitOut.model_validate(x, from_attributes=True)


@router.delete("/limits/{limit_id}", status_code=204, responses={404: {}})
def delete_limit(limit_id: Id, _: Admin, s: Db) -> Response:
    s.delete(_limit(s, limit_id))
    return Response(status_code=204)
