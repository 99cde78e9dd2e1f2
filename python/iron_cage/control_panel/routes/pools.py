"""Budget pools of developers and teams, teams, and everyone's own budgets (``/budgets/mine``)."""

from __future__ import annotations

from decimal import Decimal

from fastapi import Response
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from iron_cage.control_panel.budgets import budget_out
from iron_cage.control_panel.db import updated
from iron_cage.control_panel.deps import Admin, Db, Id, Person, Reader, TxRouter
from iron_cage.control_panel.errors import conflict, not_found
from iron_cage.control_panel.models import Agent, Budget, BudgetPool, Team, TeamMember, User
from iron_cage.control_panel.money import micros, usd
from iron_cage.control_panel.pools import member_pools, pool_out, visible_pool
from iron_cage.control_panel.wire import MyBudgets, PoolOut, PoolSet, TeamIn, TeamOut

router = TxRouter(tags=["budget pools and teams"])


def team_out(s: Session, t: Team) -> TeamOut:
    q = select(TeamMember.user_id).where(TeamMember.team_id == t.id).order_by(TeamMember.user_id)
    members = s.scalars(q)
    return TeamOut(id=t.id, name=t.name, member_ids=[int(m) for m in members], created_at=t.created_at)


def _team(s: Session, team_id: int) -> Team:
    t = s.get(Team, team_id)
    if t is None:
        raise not_found(f"team {team_id}")
    return t


def _set_pool(s: Session, owner: dict[str, int], limit_usd: Decimal) -> BudgetPool:
    """Creates or changes the pool of ``owner`` (``user_id`` or ``team_id``); its limit never
    drops below what its agents are allocated (one conditional UPDATE)."""
    limit = micros(limit_usd)
    column = BudgetPool.user_id if "user_id" in owner else BudgetPool.team_id
    p = s.scalar(select(BudgetPool).where(column == next(iter(owner.values()))))
    if p is None:
        p = BudgetPool(limit_micros=limit, allocated_micros=0, **owner)
        s.add(p)
        s.flush()
        return p
    done = updated(
        s,
        update(BudgetPool)
        .where(BudgetPool.id == p.id, BudgetPool.allocated_micros <= limit)
        .values(limit_micros=limit),
    )
    s.refresh(p)
    if done != 1:
        raise conflict(
            f"limit ${limit_usd} is below what the pool's agents are allocated "
            f"(${usd(p.allocated_micros):.6f}): lower their allocations first, or set a higher limit",
            allocated_usd=usd(p.allocated_micros),
        )
    return p


@router.put("/users/{user_id}/budget", responses={404: {}, 409: {}})
def set_user_pool(user_id: Id, body: PoolSet, _: Admin, s: Db) -> PoolOut:
    """Allocates to a developer: their agents' allocations are drawn from it (they set them
    themselves, within it)."""
    if s.get(User, user_id) is None:
        raise not_found(f"user {user_id}")
    return pool_out(s, _set_pool(s, {"user_id": user_id}, body.limit_usd))


@router.put("/teams/{team_id}/budget", responses={404: {}, 409: {}})
def set_team_pool(team_id: Id, body: PoolSet, _: Admin, s: Db) -> PoolOut:
    """Allocates to a team: its members' agents draw from it."""
    _team(s, team_id)
    return pool_out(s, _set_pool(s, {"team_id": team_id}, body.limit_usd))


@router.get("/budgets/pools")
def list_pools(who: Person, s: Db) -> list[PoolOut]:
    """Every pool (admins, viewers), or your own and your teams'."""
    q = select(BudgetPool).order_by(BudgetPool.id)
    if who.role not in ("admin", "viewer"):
        q = q.where(member_pools(who.user_id))
    return [pool_out(s, p) for p in s.scalars(q)]


@router.get("/budgets/pools/{pool_id}", responses={403: {}, 404: {}})
def read_pool(pool_id: Id, who: Person, s: Db) -> PoolOut:
    return pool_out(s, visible_pool(s, who, pool_id))


@router.get("/budgets/mine")
def my_budgets(who: Person, s: Db) -> MyBudgets:
    """Your pool, your teams' pools and your agents' allocations (any role, super_user included)."""
    pools = s.scalars(select(BudgetPool).where(member_pools(who.user_id)).order_by(BudgetPool.id))
    agents = s.scalars(
        select(Budget)
        .join(Agent, Agent.id == Budget.agent_id)
        .where(Agent.owner_id == who.user_id)
        .order_by(Budget.agent_id)
    )
    return MyBudgets(pools=[pool_out(s, p) for p in pools], agents=[budget_out(b) for b in agents])


# --- teams ----------------------------------------------------------------------------------------
@router.post("/teams", status_code=201, responses={409: {}})
def create_team(body: TeamIn, _: Admin, s: Db) -> TeamOut:
    if s.scalar(select(Team.id).where(Team.name == body.name)) is not None:
        raise conflict(f"a team named {body.name!r} exists")
    t = Team(name=body.name)
    s.add(t)
    s.flush()
    return team_out(s, t)


@router.get("/teams")
def list_teams(who: Reader, s: Db) -> list[TeamOut]:
    """Every team (admins, viewers), or the teams you are in."""
    q = select(Team).order_by(Team.id)
    if who.role not in ("admin", "viewer"):
        q = q.where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.user_id == who.user_id)))
    return [team_out(s, t) for t in s.scalars(q)]


@router.put("/teams/{team_id}/members/{user_id}", responses={404: {}})
def add_member(team_id: Id, user_id: Id, _: Admin, s: Db) -> TeamOut:
    t = _team(s, team_id)
    if s.get(User, user_id) is None:
        raise not_found(f"user {user_id}")
    if s.get(TeamMember, (team_id, user_id)) is None:
        s.add(TeamMember(team_id=team_id, user_id=user_id))
        s.flush()
    return team_out(s, t)


@router.delete("/teams/{team_id}/members/{user_id}", status_code=204, responses={404: {}})
def remove_member(team_id: Id, user_id: Id, _: Admin, s: Db) -> Response:
    """The member's agents keep what they were allocated from the team's pool until an admin
    moves them; they just cannot be given more from it."""
    _team(s, team_id)
    gone = delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    if updated(s, gone) != 1:
        raise not_found(f"user {user_id} in team {team_id}")
    return Response(status_code=204)
