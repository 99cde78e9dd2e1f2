"""Agents' allocations as the API shows them, and their live STATE_UPDATE events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from iron_cage.control_panel.db import tx_memo
from iron_cage.control_panel.events import emit
from iron_cage.control_panel.models import Agent, Budget
from iron_cage.control_panel.money import usd
from iron_cage.control_panel.wire import BudgetOut


def budget_out(b: Budget) -> BudgetOut:
    return BudgetOut(
        agent_id=b.agent_id,
        limit_usd=usd(b.limit_micros),
        spent_usd=usd(b.spent_micros),
        leased_usd=usd(b.leased_micros),
        available_usd=usd(max(0, b.limit_micros - b.spent_micros - b.leased_micros)),
        pool_id=b.pool_id,
    )


def budget_of(s: Session, agent_id: int) -> Budget:
    """The agent's budget row: the one this transaction locked and updated, if it did (see
    :func:`remember`), else read now."""
    b = tx_memo(s, "budgets").get(agent_id)
    if b is None:
        b = s.scalar(select(Budget).where(Budget.agent_id == agent_id))
    assert b is not None, f"agent {agent_id} has no budget row"
    return b


def remember(s: Session, b: Budget) -> Budget:
    """Keeps ``b`` (just returned by an UPDATE of this transaction, which holds its row lock
    until commit, so nobody else can change it) for :func:`budget_of`: the events and the
    answer of a report or handshake need no second read of the row."""
    tx_memo(s, "budgets")[b.agent_id] = b
    return b


def forget(s: Session, agent_id: int) -> None:
    """Drops the kept row after a statement :func:`remember` did not see changed it."""
    tx_memo(s, "budgets").pop(agent_id, None)


def publish_state(s: Session, a: Agent) -> None:
    """A STATE_UPDATE with the agent's status and budget, sent when the transaction commits."""
    emit(
        s,
        "STATE_UPDATE",
        a.id,
        a.owner_id,
        agent=a.name,
        status=a.status,
        budget=budget_out(budget_of(s, a.id)).model_dump(),
    )
