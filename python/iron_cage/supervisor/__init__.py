"""The agent supervisor: ``iron-cage start AGENT.py`` runs an unmodified Python agent as a
governed child process (see docs/agents.md)."""

from __future__ import annotations

from iron_cage.supervisor.agent_api import outcome, progress, supervised

__all__ = ["outcome", "progress", "supervised"]
