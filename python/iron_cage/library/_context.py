"""The runtime in effect for the current thread or asyncio task."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iron_cage.library._runtime import AgentRuntime

CURRENT: ContextVar[AgentRuntime | None] = ContextVar("iron_cage_runtime", default=None)

# Set while a governed transport hands an admitted request to the transport under
# it: an HTTP library that transport runs on (aiohttp under LiteLLM's httpx
# transport) is sending a request already charged, not one escaping governance.
SENDING_GOVERNED: ContextVar[bool] = ContextVar("iron_cage_sending_governed", default=False)
