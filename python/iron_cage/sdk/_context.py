"""The runtime in effect for the current thread or asyncio task."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iron_cage.sdk._runtime import AgentRuntime

CURRENT: ContextVar[AgentRuntime | None] = ContextVar("iron_cage_runtime", default=None)
