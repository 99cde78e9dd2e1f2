"""Who may reach which object, beyond what the route's role check allows (shared by the routes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from iron_cage.control_panel.errors import forbidden, not_found
from iron_cage.control_panel.models import Agent, Secret, SecretBinding
from iron_cage.control_panel.principal import Principal


def visible_agent(s: Session, who: Principal, agent_id: int, *, write: bool = False) -> Agent:
    """The agent if ``who`` may see it (write: change it); developers only reach their own."""
    a = s.get(Agent, agent_id)
    if a is None:
        raise not_found(f"agent {agent_id}")
    if who.role in ("developer", "super_user") and a.owner_id != who.user_id:
        raise forbidden(f"agent {agent_id} belongs to another developer")
    if who.role == "agent" and a.id != who.agent_id:
        raise forbidden(f"IC token of agent {who.agent_id} cannot act on agent {agent_id}")
    if write and who.role not in ("admin", "developer"):
        raise forbidden(f"role {who.role!r} may not change agents")
    return a


def secret_scope(s: Session, who: Principal) -> ColumnElement[bool]:
    """The secrets ``who`` may know of, as a condition on ``Secret``.

    - admins and viewers: every secret (values masked except an admin's reveal);
    - developers: the secrets bound to one of their agents, or to a project one of them is in;
    - an agent's IC token: the secrets bound to its agent or its agent's project, in the
      token's environment. Anything else does not exist for it (404, not 403).
    """
    if who.role in ("admin", "viewer"):
        return true()
    bound: Any
    if who.role == "developer":
        mine = select(Agent.id).where(Agent.owner_id == who.user_id)
        projects = select(Agent.project).where(Agent.owner_id == who.user_id)
        bound = select(SecretBinding.secret_id).where(
            or_(SecretBinding.agent_id.in_(mine), SecretBinding.project.in_(projects))
        )
        return Secret.id.in_(bound)
    if who.role == "agent" and who.agent_id is not None:
        agent = s.get(Agent, who.agent_id)
        project = agent.project if agent is not None else None
        bound = select(SecretBinding.secret_id).where(
            or_(SecretBinding.agent_id == who.agent_id, SecretBinding.project == project)
        )
        return Secret.id.in_(bound) & (Secret.environment == (who.environment or "production"))
    return Secret.id.is_(None)  # nothing


def may_see_secret(s: Session, who: Principal, x: Secret) -> bool:
    return s.scalar(select(Secret.id).where(Secret.id == x.id, secret_scope(s, who))) is not None
