"""OpenAI Agents SDK: govern ``Runner.run`` / ``run_streamed`` with an AgentRuntime.

``use_runtime(rt)`` installs an instrumented ``AsyncOpenAI`` as the SDK's default
client, so every model call of every agent (Responses or Chat Completions models)
is priced, capped, PII-scanned and breaker-guarded by ``rt``.
:class:`IronCageRunHooks` refuses to start a model call once the budget is spent
and counts the calls the SDK made::

    rt = ic.AgentRuntime(budget=2.0)
    use_runtime(rt)
    result = await Runner.run(agent, "Plan my week", hooks=IronCageRunHooks(rt))
"""

from __future__ import annotations

from typing import Any

import openai
from agents import RunHooks, set_default_openai_client

from iron_cage._exceptions import BudgetExceededError
from iron_cage.library._runtime import AgentRuntime


def use_runtime(
    runtime: AgentRuntime, client: openai.AsyncOpenAI | None = None, **client_options: Any
) -> openai.AsyncOpenAI:
    """Makes ``client`` (or a new ``AsyncOpenAI(**client_options)``), governed by
    ``runtime``, the Agents SDK's default client; returns it."""
    governed = runtime.instrument(client if client is not None else openai.AsyncOpenAI(**client_options))
    set_default_openai_client(governed, use_for_tracing=False)
    return governed


class IronCageRunHooks(RunHooks[Any]):
    """Stops an agent run before a model call once ``runtime``'s budget is spent."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.llm_calls = 0

    async def on_llm_start(self, context: Any, agent: Any, system_prompt: Any, input_items: Any) -> None:
        remaining = self.runtime.remaining_usd
        if remaining is not None and remaining <= 0:
            raise BudgetExceededError(
                f"budget exceeded: {self.runtime.name} has spent its ${self.runtime.spent_usd:.6f}; "
                f"agent {getattr(agent, 'name', '?')!r} was stopped before its next model call"
            )

    async def on_llm_end(self, context: Any, agent: Any, response: Any) -> None:
        self.llm_calls += 1
