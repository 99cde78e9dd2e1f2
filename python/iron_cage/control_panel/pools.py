"""Budget pools: what an admin allocates to a developer or a team, from which their agents'
allocations are drawn.

Invariant, for every pool: ``allocated <= limit``, and ``allocated`` is exactly the sum of the
allocations (``Budget.limit``) of the agents in the pool. An agent's spent + live leases never
pass its own allocation (``leasing.grant``), so a pool's spent + live leases never pass the pool.

Every change of an allocation inside a pool is one conditional UPDATE of the pool row
(``allocated = allocated + delta WHERE allocated + delta <= limit``) in the same transaction as
the UPDATE of the agent's budget. The agent's budget row is locked first, then the pools in id
order, so concurrent changes on any number of replicas serialise without deadlocks (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: the row locks and READ COMMITTED re-evaluation).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.orm import Session

from iron_cage.control_panel.db import SafeSum, updated
from iron_cage.control_panel.errors import ApiError, conflict, forbidden, not_found
from iron_cage.control_panel.models import Agent, Budget, BudgetPool, TeamMember
from iron_cage.control_panel.money import usd
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.wire import PoolOut

UTC = timezone.utc


def pool_out(s: Session, p: BudgetPool) -> PoolOut:
    row = s.execute(
        select(SafeSum(Budget.spent_micros), SafeSum(Budget.leased_micros)).where(Budget.pool_id == p.id)
    ).one()
    agents = sorted(int(a) for a in s.scalars(select(Budget.agent_id).where(Budget.pool_id == p.id)))
    return PoolOut(
        id=p.id,
        user_id=p.user_id,
        team_id=p.team_id,
        limit_usd=usd(p.limit_micros),
        allocated_usd=usd(p.allocated_micros),
        unallocated_usd=usd(max(0, p.limit_micros - p.allocated_micros)),
        spent_usd=usd(int(row[0])),
        leased_usd=usd(int(row[1])),
        agent_ids=agents,
    )


def member_pools(user_id: int | None) -> ColumnElement[bool]:
    """A condition on ``BudgetPool``: the user's own pool and their teams' pools."""
    teams = select(TeamMember.team_id).where(TeamMember.user_id == user_id)
    return (BudgetPool.user_id == user_id) | BudgetPool.team_id.in_(teams)


def get_pool(s: Session, pool_id: int) -> BudgetPool:
    p = s.get(BudgetPool, pool_id)
    if p is None:
        raise not_found(f"budget pool {pool_id}")
    return p


def may_draw(s: Session, user_id: int, pool: BudgetPool) -> bool:
    """Whether ``user_id``'s agents may draw from ``pool`` (their own, or a team's they are in)."""
    if pool.user_id is not None:
        return pool.user_id == user_id
    return bool(
        s.scalar(select(exists().where(TeamMember.team_id == pool.team_id, TeamMember.user_id == user_id)))
    )


def visible_pool(s: Session, who: Principal, pool_id: int) -> BudgetPool:
    p = get_pool(s, pool_id)
    if who.role in ("admin", "viewer"):
        return p
    if who.role in ("developer", "super_user") and who.user_id is not None and may_draw(s, who.user_id, p):
        return p
    raise forbidden(f"budget pool {pool_id} is neither yours nor one of your teams'")


def _shift(s: Session, pool_id: int, delta: int) -> None:
    """Moves ``delta`` into (or, negative, out of) the pool's allocated amount: one statement
    that refuses to pass the pool's limit."""
    if delta == 0:
        return
    stmt = update(BudgetPool).where(BudgetPool.id == pool_id)
    if delta > 0:
        stmt = stmt.where(BudgetPool.allocated_micros + delta <= BudgetPool.limit_micros)
    done = updated(
        s, stmt.values(allocated_micros=BudgetPool.allocated_micros + delta, updated_at=datetime.now(UTC))
    )
    if done != 1:
        p = get_pool(s, pool_id)
        s.refresh(p)
        left = max(0, p.limit_micros - p.allocated_micros)
        raise ApiError(
            409,
            "pool_exceeded",
            f"budget pool {pool_id} has ${usd(left):.6f} of its ${usd(p.limit_micros):.6f} unallocated, "
            f"less than the ${usd(delta):.6f} more this allocation needs: allocate less, lower another "
            "agent's allocation in the pool, or ask an admin to raise the pool",
            pool_id=pool_id,
            unallocated_usd=usd(left),
            needed_usd=usd(delta),
        )


def allocate(s: Session, agent: Agent, limit: int, pool_id: int | None) -> Budget:
    """Sets the agent's allocation to ``limit`` drawn from ``pool_id`` (None: no pool), moving it
    between pools if it changes; refuses to go below spent + leased or past a pool's limit."""
    # The budget row first: concurrent allocations of this agent queue here.
    b = s.execute(select(Budget).where(Budget.agent_id == agent.id).with_for_update()).scalar_one()
    s.refresh(b)
    old_limit, old_pool = b.limit_micros, b.pool_id
    if b.spent_micros + b.leased_micros > limit:
        floor = usd(b.spent_micros + b.leased_micros)
        raise conflict(
            f"limit ${usd(limit):.6f} is below spent + leased (${floor:.6f}): wait for leases to return "
            "or set a higher limit",
            minimum_usd=floor,
        )
    changes: dict[int, int] = {}
    if old_pool is not None:
        changes[old_pool] = changes.get(old_pool, 0) - old_limit
    if pool_id is not None:
        changes[pool_id] = changes.get(pool_id, 0) + limit
    for pid in sorted(changes):  # pools in id order: no deadlock between two moves
        _shift(s, pid, changes[pid])
    done = updated(
        s,
        update(Budget)
        .where(Budget.agent_id == agent.id, Budget.spent_micros + Budget.leased_micros <= limit)
        .values(limit_micros=limit, pool_id=pool_id, updated_at=datetime.now(UTC), alerted_pct=0),
    )
    if done != 1:  # a grant got in between the check and here (PostgreSQL): refuse, roll back
        raise conflict("a lease was granted meanwhile: try again with a higher limit or later")
    s.refresh(b)
    return b


def raise_allocation(s: Session, agent_id: int, amount: int, ceiling: int) -> bool:
    """Raises the agent's allocation by ``amount`` (an approved request), inside its pool if it
    has one; False when the allocation would pass ``ceiling``."""
    b = s.execute(select(Budget).where(Budget.agent_id == agent_id).with_for_update()).scalar_one()
    s.refresh(b)
    if b.limit_micros + amount > ceiling:
        return False
    if b.pool_id is not None:
        _shift(s, b.pool_id, amount)
    return (
        updated(
            s,
            update(Budget)
            .where(Budget.agent_id == agent_id)
            .values(limit_micros=Budget.limit_micros + amount, updated_at=datetime.now(UTC)),
        )
        == 1
    )
