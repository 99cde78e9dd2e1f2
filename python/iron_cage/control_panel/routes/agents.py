"""Agents, their IC tokens and their budget allocations."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from iron_cage.control_panel.access import visible_agent
from iron_cage.control_panel.budgets import budget_of, budget_out, publish_state
from iron_cage.control_panel.deps import AgentReader, Caller, Db, Id, Reader, Staff, TxRouter
from iron_cage.control_panel.errors import bad_request, conflict, forbidden, not_found
from iron_cage.control_panel.events import emit
from iron_cage.control_panel.models import Agent, Budget, IcToken, User
from iron_cage.control_panel.money import micros
from iron_cage.control_panel.pools import allocate, get_pool, may_draw
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.security import IC_TOKEN_PREFIX, new_token, token_hash
from iron_cage.control_panel.wire import (
    AgentIn,
    AgentOut,
    AgentPatch,
    BudgetOut,
    BudgetSet,
    TokenCreated,
    TokenIn,
    TokenListed,
    TokenOut,
)

router = TxRouter(tags=["agents"])

UTC = timezone.utc


def agent_out(s: Session, a: Agent) -> AgentOut:
    return AgentOut(
        id=a.id,
        name=a.name,
        owner_id=a.owner_id,
        project=a.project,
        provider=a.provider,
        status=a.status,
        created_at=a.created_at,
        stop_requested=a.stop_requested_at is not None,
        budget=budget_out(budget_of(s, a.id)),
    )


@router.get("/agents")
def list_agents(who: Reader, s: Db) -> list[AgentOut]:
    q = select(Agent).order_by(Agent.id)
    if who.role == "developer":
        q = q.where(Agent.owner_id == who.user_id)
    return [agent_out(s, a) for a in s.scalars(q)]


@router.post("/agents", status_code=201, responses={400: {}, 403: {}, 409: {}})
def create_agent(body: AgentIn, who: Staff, s: Db) -> AgentOut:
    """A new agent of yours (admins: of anyone). Its allocation (``budget_usd``) comes from an
    admin, or from a budget pool (``pool_id``: the owner's or one of their teams') within what
    the pool has unallocated."""
    owner_id = who.user_id
    if body.owner_id is not None and body.owner_id != who.user_id:
        if who.role != "admin":
            raise forbidden("only admins create agents for other users")
        owner = s.get(User, body.owner_id)
        if owner is None or owner.status != "active":
            raise bad_request(f"owner {body.owner_id} is not an active user")
        owner_id = owner.id
    assert owner_id is not None
    if body.pool_id is not None:
        pool = get_pool(s, body.pool_id)
        if not may_draw(s, owner_id, pool):
            raise forbidden(f"budget pool {body.pool_id} is neither the owner's nor one of their teams'")
    elif body.budget_usd is not None and who.role != "admin":
        raise forbidden(
            "only admins allocate budgets outside a pool: create the agent with pool_id (your pool "
            "or your team's), or ask for budget"
        )
    a = Agent(name=body.name, project=body.project, provider=body.provider, owner_id=owner_id)
    s.add(a)
    s.flush()
    s.add(Budget(agent_id=a.id, limit_micros=0))
    s.flush()
    if body.budget_usd is not None or body.pool_id is not None:
        limit = micros(body.budget_usd) if body.budget_usd is not None else 0
        allocate(s, a, limit, body.pool_id)
    return agent_out(s, a)


@router.get("/agents/{agent_id}", responses={403: {}, 404: {}})
def read_agent(agent_id: Id, who: AgentReader, s: Db) -> AgentOut:
    return agent_out(s, visible_agent(s, who, agent_id))


@router.patch("/agents/{agent_id}", responses={403: {}, 404: {}})
def patch_agent(agent_id: Id, body: AgentPatch, who: Staff, s: Db) -> AgentOut:
    """Renames or moves an agent; only admins switch its provider, which decides the provider
    key its runtime receives at handshake."""
    a = visible_agent(s, who, agent_id, write=True)
    if body.provider is not None and body.provider != a.provider and who.role != "admin":
        raise forbidden(
            f"only admins change an agent's provider (it decides which provider key the runtime "
            f"receives): agent {agent_id} stays on {a.provider!r}; ask an admin to switch it"
        )
    for field in ("name", "project", "provider"):
        value = getattr(body, field)
        if value is not None:
            setattr(a, field, value)
    return agent_out(s, a)


@router.post("/agents/{agent_id}/stop", responses={403: {}, 404: {}})
def stop_agent(agent_id: Id, who: Staff, s: Db) -> AgentOut:
    """Asks the agent's runtime to stop: its next report or refresh answers ``stop: true`` and
    no new lease is granted until the agent is resumed."""
    a = visible_agent(s, who, agent_id, write=True)
    a.status = "stopped"
    a.stop_requested_at = datetime.now(UTC)
    user = s.get(User, who.user_id) if who.user_id is not None else None
    a.stopped_by = f"{user.email if user else who.name} ({who.role})"  # named in the runtime's error
    emit(s, "AGENT_EVENT", a.id, a.owner_id, event="stopped", by=who.name, by_role=who.role)
    publish_state(s, a)
    return agent_out(s, a)


@router.post("/agents/{agent_id}/resume", responses={403: {}, 404: {}})
def resume_agent(agent_id: Id, who: Staff, s: Db) -> AgentOut:
    a = visible_agent(s, who, agent_id, write=True)
    a.status = "active"
    a.stop_requested_at = None
    a.stopped_by = None
    emit(s, "AGENT_EVENT", a.id, a.owner_id, event="resumed", by=who.name, by_role=who.role)
    publish_state(s, a)
    return agent_out(s, a)


@router.get("/agents/{agent_id}/budget", responses={403: {}, 404: {}})
def read_budget(agent_id: Id, who: Caller, s: Db) -> BudgetOut:
    visible_agent(s, who, agent_id)
    return budget_out(budget_of(s, agent_id))


@router.put("/agents/{agent_id}/budget", responses={403: {}, 404: {}, 409: {}})
def set_budget(agent_id: Id, body: BudgetSet, who: Staff, s: Db) -> BudgetOut:
    """Sets the allocation, never below what is already spent plus leased out. With
    ``pool_id`` (or when the agent is in a pool) it is drawn from that pool and never takes the
    pool past its limit. Admins set any allocation; a developer sets their own agent's within
    their pool or their team's."""
    a = visible_agent(s, who, agent_id, write=True)
    current = budget_of(s, agent_id).pool_id
    pool_id = body.pool_id if "pool_id" in body.model_fields_set else current
    if who.role != "admin":
        assert who.user_id is not None
        if pool_id is None:
            raise forbidden(
                f"agent {agent_id} is not in a budget pool: only admins allocate outside one "
                "(send pool_id: your pool or your team's, or ask for budget)"
            )
        for pid in {pool_id, current} - {None}:
            assert pid is not None
            if not may_draw(s, who.user_id, get_pool(s, pid)):
                raise forbidden(f"budget pool {pid} is neither yours nor one of your teams'")
    elif pool_id is not None and pool_id != current and not may_draw(s, a.owner_id, get_pool(s, pool_id)):
        raise bad_request(f"budget pool {pool_id} is neither the agent owner's nor one of their teams'")
    b = allocate(s, a, micros(body.limit_usd), pool_id)
    publish_state(s, a)
    return budget_out(b)


# --- IC tokens ------------------------------------------------------------------------------------
def token_out(t: IcToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        agent_id=t.agent_id,
        name=t.name,
        environment=t.environment,
        prefix=t.prefix,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        revoked=t.revoked_at is not None,
    )


def _mint(s: Session, agent_id: int, name: str, environment: str) -> TokenCreated:
    token = new_token(IC_TOKEN_PREFIX)
    t = IcToken(
        agent_id=agent_id,
        name=name,
        environment=environment,
        token_hash=token_hash(token),
        prefix=token[:10],
    )
    s.add(t)
    s.flush()
    return TokenCreated(token=token, info=token_out(t))


@router.post("/agents/{agent_id}/tokens", status_code=201, responses={403: {}, 404: {}})
def create_token(agent_id: Id, body: TokenIn, who: Staff, s: Db) -> TokenCreated:
    """A new IC token for the agent: 256-bit random, returned once, stored as SHA-256. It reads
    the secrets bound to the agent in its ``environment`` (default production)."""
    visible_agent(s, who, agent_id, write=True)
    return _mint(s, agent_id, body.name, body.environment)


@router.get("/agents/{agent_id}/tokens", responses={403: {}, 404: {}})
def list_tokens(agent_id: Id, who: Staff, s: Db) -> list[TokenOut]:
    visible_agent(s, who, agent_id)
    q = select(IcToken).where(IcToken.agent_id == agent_id).order_by(IcToken.id)
    return [token_out(t) for t in s.scalars(q)]


@router.get("/tokens")
def list_all_tokens(
    who: Staff,
    s: Db,
    revoked: Annotated[bool | None, Query(description="only revoked (true) or live (false) ones")] = None,
) -> list[TokenListed]:
    """Every agent's IC tokens, newest first, with the agent's name (admins: all agents;
    developers: their own). Never the token itself: it was shown once, at creation."""
    q = select(IcToken, Agent.name).join(Agent, Agent.id == IcToken.agent_id).order_by(IcToken.id.desc())
    if who.role == "developer":
        q = q.where(Agent.owner_id == who.user_id)
    if revoked is not None:
        q = q.where(IcToken.revoked_at.is_not(None) if revoked else IcToken.revoked_at.is_(None))
    return [TokenListed(**token_out(t).model_dump(), agent_name=name) for t, name in s.execute(q)]


def _token(s: Session, who: Principal, token_id: int) -> IcToken:
    t = s.get(IcToken, token_id)
    if t is None:
        raise not_found(f"token {token_id}")
    visible_agent(s, who, t.agent_id, write=True)
    return t


@router.delete("/tokens/{token_id}", status_code=204, responses={403: {}, 404: {}})
def revoke_token(token_id: Id, who: Staff, s: Db) -> Response:
    """Revokes at once: the next call with this token gets 401."""
    t = _token(s, who, token_id)
    if t.revoked_at is None:
        t.revoked_at = datetime.now(UTC)
    return Response(status_code=204)


@router.post("/tokens/{token_id}/regenerate", status_code=201, responses={403: {}, 404: {}, 409: {}})
def regenerate_token(token_id: Id, who: Staff, s: Db) -> TokenCreated:
    """Revokes the token at once and returns a new one for the same agent, name and environment
    (developers regenerate their own agents' tokens)."""
    t = _token(s, who, token_id)
    if t.revoked_at is not None:
        raise conflict(f"token {token_id} is revoked: create a new token instead")
    t.revoked_at = datetime.now(UTC)
    return _mint(s, t.agent_id, t.name, t.environment)
