"""Who is calling: a person (by role) or an agent runtime holding an IC token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (admin, developer, viewer, super_user) or an agent runtime
    holding an IC token."""

    role: str
    user_id: int | None = None
    agent_id: int | None = None
    token_id: int | None = None
    # An IC token's environment: the one whose secrets it reads.
    environment: str | None = None

    @property
    def name(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"agent:{self.agent_id}"
