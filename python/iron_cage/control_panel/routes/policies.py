"""Allowed models and providers and PII policies of developers and agents, and the unauthorized
actions log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy import select

from iron_cage.control_panel import policy
from iron_cage.control_panel.access import visible_agent
from iron_cage.control_panel.deps import Admin, AgentReader, Db, Id, Staff, TxRouter
from iron_cage.control_panel.errors import not_found
from iron_cage.control_panel.models import Agent, UnauthorizedAction, User
from iron_cage.control_panel.wire import (
    AgentPiiPolicyOut,
    AgentPolicyOut,
    ModelPolicy,
    PiiPolicy,
    UnauthorizedActionOut,
)

router = TxRouter(tags=["models and providers"])


def _agent_policy(s: Db, a: Agent) -> AgentPolicyOut:
    owner = s.get(User, a.owner_id)
    return AgentPolicyOut(
        agent_id=a.id,
        agent=policy.own(a),
        developer=policy.own(owner) if owner is not None else ModelPolicy(),
        effective=policy.effective(s, a),
    )


def _user(s: Db, user_id: int) -> User:
    u = s.get(User, user_id)
    if u is None:
        raise not_found(f"user {user_id}")
    return u


@router.get("/users/{user_id}/model-policy", responses={404: {}})
def read_user_policy(user_id: Id, _: Admin, s: Db) -> ModelPolicy:
    return policy.own(_user(s, user_id))


@router.put("/users/{user_id}/model-policy", responses={404: {}})
def set_user_policy(user_id: Id, body: ModelPolicy, _: Admin, s: Db) -> ModelPolicy:
    """What every agent of this developer may call (null: any). Runtimes receive it with their
    next lease answer (within a poll, ~5 s)."""
    u = _user(s, user_id)
    u.allowed_models = policy.dump(body.allowed_models)
    u.allowed_providers = policy.dump(body.allowed_providers)
    return policy.own(u)


@router.get("/agents/{agent_id}/model-policy", responses={403: {}, 404: {}})
def read_agent_policy(agent_id: Id, who: AgentReader, s: Db) -> AgentPolicyOut:
    """The agent's own lists, its developer's, and what applies (both)."""
    return _agent_policy(s, visible_agent(s, who, agent_id))


@router.put("/agents/{agent_id}/model-policy", responses={403: {}, 404: {}})
def set_agent_policy(agent_id: Id, body: ModelPolicy, _: Admin, s: Db) -> AgentPolicyOut:
    a = s.get(Agent, agent_id)
    if a is None:
        raise not_found(f"agent {agent_id}")
    a.allowed_models = policy.dump(body.allowed_models)
    a.allowed_providers = policy.dump(body.allowed_providers)
    return _agent_policy(s, a)


def _agent_pii(s: Db, a: Agent) -> AgentPiiPolicyOut:
    owner = s.get(User, a.owner_id)
    return AgentPiiPolicyOut(
        agent_id=a.id,
        agent=policy.own_pii(a),
        developer=policy.own_pii(owner) if owner is not None else PiiPolicy(),
        effective=policy.effective_pii(s, a),
    )


@router.get("/users/{user_id}/pii-policy", responses={404: {}})
def read_user_pii_policy(user_id: Id, _: Admin, s: Db) -> PiiPolicy:
    return policy.own_pii(_user(s, user_id))


@router.put("/users/{user_id}/pii-policy", responses={404: {}})
def set_user_pii_policy(user_id: Id, body: PiiPolicy, _: Admin, s: Db) -> PiiPolicy:
    """The PII policies for what every agent of this developer sends and receives
    (``{"egress": {"EMAIL": "block", "default": "redact"}, "ingress": {"API_KEY": "block"}}``;
    null: none). Floors: runtimes apply per entity the stricter of each and their own, from
    their next lease answer (within a poll, ~5 s)."""
    u = _user(s, user_id)
    policy.store_pii(u, body)
    return policy.own_pii(u)


@router.get("/agents/{agent_id}/pii-policy", responses={403: {}, 404: {}})
def read_agent_pii_policy(agent_id: Id, who: AgentReader, s: Db) -> AgentPiiPolicyOut:
    """The agent's own PII policy, its developer's, and what its runtime receives."""
    return _agent_pii(s, visible_agent(s, who, agent_id))


@router.put("/agents/{agent_id}/pii-policy", responses={403: {}, 404: {}})
def set_agent_pii_policy(agent_id: Id, body: PiiPolicy, _: Admin, s: Db) -> AgentPiiPolicyOut:
    a = s.get(Agent, agent_id)
    if a is None:
        raise not_found(f"agent {agent_id}")
    policy.store_pii(a, body)
    return _agent_pii(s, a)


@router.get("/unauthorized-actions", responses={403: {}})
def unauthorized_actions(
    who: Staff,
    s: Db,
    agent_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[UnauthorizedActionOut]:
    """Refused attempts (a usage report for a model the agent may not call, ...), newest first:
    every agent's for admins, their own agents' for developers."""
    q = select(UnauthorizedAction).order_by(UnauthorizedAction.id.desc()).limit(limit)
    if agent_id is not None:
        visible_agent(s, who, agent_id)
        q = q.where(UnauthorizedAction.agent_id == agent_id)
    elif who.role == "developer":
        q = q.where(UnauthorizedAction.agent_id.in_(select(Agent.id).where(Agent.owner_id == who.user_id)))
    return [UnauthorizedActionOut.model_validate(x, from_attributes=True) for x in s.scalars(q)]
