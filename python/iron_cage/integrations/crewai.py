"""CrewAI: govern a crew's LLM calls with an AgentRuntime.

CrewAI (which pins ``openai<3``, on ``httpx``) builds its own OpenAI clients; inside
``govern(rt)`` they are instrumented automatically, so every call is priced,
capped, PII-scanned and breaker-guarded. ``govern`` also registers CrewAI's global
``before_llm_call`` hook to stop a crew before a model call once the budget is spent,
an ``after_llm_call`` hook that counts the calls, and tool hooks that apply the runtime's
tool rules (``allowed_tools``, ``tool_limits``: a refused tool is blocked, the agent is
told so) and make each tool run a ``tool_call`` event::

    rt = ic.AgentRuntime(budget=3.0)
    with govern(rt) as stats:
        result = crew.kickoff(inputs={...})
    stats.llm_calls, rt.spent_usd
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from crewai.hooks import (
    register_after_llm_call_hook,
    register_after_tool_call_hook,
    register_before_llm_call_hook,
    register_before_tool_call_hook,
    unregister_after_llm_call_hook,
    unregister_after_tool_call_hook,
    unregister_before_llm_call_hook,
    unregister_before_tool_call_hook,
)

from iron_cage._exceptions import BudgetExceededError
from iron_cage.library import _instrument
from iron_cage.library._runtime import AgentRuntime

# CrewAI builds its OpenAI clients when an LLM is constructed, usually before any
# runtime exists: from now on such clients follow whichever runtime is current.
_instrument.install_auto_instrument()


@dataclass
class CrewStats:
    """What the hooks saw."""

    llm_calls: int = 0
    blocked: int = 0
    tool_calls: int = 0
    tools_blocked: int = 0


@contextmanager
def govern(runtime: AgentRuntime) -> Iterator[CrewStats]:
    """Runs the block inside ``runtime`` with the budget hooks registered."""
    stats = CrewStats()

    def before(context: Any) -> bool | None:
        remaining = runtime.remaining_usd
        if remaining is not None and remaining <= 0:
            stats.blocked += 1
            role = getattr(getattr(context, "agent", None), "role", "?")
            raise BudgetExceededError(
                f"budget exceeded: {runtime.name} has spent its ${runtime.spent_usd:.6f}; "
                f"agent {role!r} was stopped before its next model call"
            )
        return None

    def after(context: Any) -> None:
        stats.llm_calls += 1

    # Tools: the runtime's allow-list, limits and events. CrewAI's hooks block a tool (the
    # agent is told it was blocked and goes on) rather than raise.
    started: dict[int, list[float]] = {}

    def before_tool(context: Any) -> bool | None:
        name = str(context.tool_name)
        if not runtime._tools.before(name, context.tool_input):
            stats.tools_blocked += 1
            return False
        started.setdefault(threading.get_ident(), []).append(time.perf_counter())
        return None

    def after_tool(context: Any) -> None:
        stack = started.get(threading.get_ident())
        if not stack:
            return  # a call before_tool blocked
        stats.tool_calls += 1
        runtime._tools.after(str(context.tool_name), stack.pop(), context.tool_input)

    register_before_llm_call_hook(before)
    register_after_llm_call_hook(after)
    register_before_tool_call_hook(before_tool)
    register_after_tool_call_hook(after_tool)
    try:
        with runtime:
            yield stats
    finally:
        unregister_before_llm_call_hook(before)
        unregister_after_llm_call_hook(after)
        unregister_before_tool_call_hook(before_tool)
        unregister_after_tool_call_hook(after_tool)


def kickoff(crew: Any, runtime: AgentRuntime, inputs: dict[str, Any] | None = None) -> Any:
    """``crew.kickoff(inputs)`` governed by ``runtime``."""
    with govern(runtime):
        return crew.kickoff(inputs=inputs)
