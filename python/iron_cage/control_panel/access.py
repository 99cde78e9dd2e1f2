"""Who may reach which object, beyond what the route's role check allows (shared by the routes)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from iron_cage.control_panel.errors import forbidden, not_found
from iron_cage.control_panel.models import Agent
from iron_cage.control_panel.principal import Principal


def visible_agent(s: Session, who: Principal, agent_id: int, *, write: bool = False) -> Agent:
    """The agent if ``who`` may see it (write: change it); developers only reach their own."""
    a = s.get(Agent, agent_id)
    if a is None:
        raise not_found(f"agent {agent_id}")
    if who.role == "developer" and a.owner_id != who.user_id:
        raise forbidden(f"agent {agent_id} belongs to another developer")
    if who.role == "agent" and a.id != who.agent_id:
        raise forbidden(f"IC token of agent {who.agent_id} cannot act on agent {agent_id}")
    if write and who.role not in ("admin", "developer"):
        raise forbidden(f"role {who.role!r} may not change agents")
    return a
