"""Library mode: govern LLM calls in-process (``AgentRuntime``, ``protect_agent``)."""

from iron_cage.library._runtime import AgentRuntime, current_runtime, protect_agent

__all__ = ["AgentRuntime", "current_runtime", "protect_agent"]
