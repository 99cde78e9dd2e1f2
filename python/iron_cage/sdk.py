"""The former name of :mod:`iron_cage.library` (library mode), kept so that existing
imports keep working: ``from iron_cage.sdk import AgentRuntime``."""

from iron_cage.library import AgentRuntime, current_runtime, protect_agent

__all__ = ["AgentRuntime", "current_runtime", "protect_agent"]
