"""LangChain: govern chat models and chains.

- :class:`IronCageChain` wraps any Runnable (a chat model, a chain, an agent
  executor): every call runs inside an :class:`AgentRuntime`, and the openai /
  anthropic clients of the chat models inside it are instrumented, so their calls
  are priced, capped, scanned and breaker-guarded — ``invoke``, ``ainvoke``,
  ``stream``, ``astream`` and ``batch`` alike.
- :class:`IronCageCallbackHandler` enforces the budget at LangChain's level: it
  sets ``raise_error = True`` (LangChain swallows callback errors otherwise) and
  refuses to start a model call once the runtime's budget is spent; it also
  counts what LangChain saw (calls, tokens) for comparison with the runtime.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable, RunnableConfig

from iron_cage._exceptions import BudgetExceededError, ConfigError
from iron_cage.library._runtime import AgentRuntime

_CLIENT_ATTRS = ("root_client", "root_async_client", "_client", "_async_client")


def _class_attr(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def instrument_runnable(runnable: Any, runtime: AgentRuntime) -> int:
    """Instruments the SDK clients of every chat model reachable from ``runnable``
    (through bindings, sequences, parallels, history wrappers ...); returns how many."""
    seen: set[int] = set()
    count = 0

    def children(obj: Any) -> list[Any]:
        values: list[Any] = []
        for v in list(getattr(obj, "__dict__", {}).values()) + list(
            (getattr(obj, "__pydantic_private__", None) or {}).values()
        ):
            if isinstance(v, (list, tuple)):
                values.extend(v)
            elif isinstance(v, dict):
                values.extend(v.values())
            else:
                values.append(v)
        # RunnableLambda (e.g. inside RunnableWithMessageHistory) closes over the runnable it calls.
        for fn_attr in ("func", "afunc"):
            fn = getattr(obj, fn_attr, None)
            fn = getattr(fn, "__func__", fn)
            for cell in getattr(fn, "__closure__", None) or ():
                try:
                    values.append(cell.cell_contents)
                except ValueError:
                    continue
            bound_self = getattr(getattr(obj, fn_attr, None), "__self__", None)
            if bound_self is not None:
                values.append(bound_self)
        return [v for v in values if isinstance(v, Runnable)]

    def visit(obj: Any, depth: int) -> None:
        nonlocal count
        if depth > 16 or id(obj) in seen:
            return
        seen.add(id(obj))
        for attr in _CLIENT_ATTRS:
            client = getattr(obj, "__dict__", {}).get(attr)
            if client is None and isinstance(_class_attr(type(obj), attr), functools.cached_property):
                # Built on first use (ChatAnthropic): build it now, so that it is bound.
                client = getattr(obj, attr, None)
            if client is not None and hasattr(client, "_client"):
                runtime.instrument(client)
                count += 1
        for child in children(obj):
            visit(child, depth + 1)

    visit(runnable, 0)
    return count


class IronCageCallbackHandler(BaseCallbackHandler):
    """Stops model calls once ``runtime``'s budget is spent (``raise_error = True``)."""

    raise_error = True

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.llm_calls = 0
        self.total_tokens = 0

    def _check(self) -> None:
        remaining = self.runtime.remaining_usd
        if remaining is not None and remaining <= 0:
            raise BudgetExceededError(
                f"budget exceeded: {self.runtime.name} has spent its ${self.runtime.spent_usd:.6f}; "
                "the model call was not started"
            )

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self._check()

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[Any]], **kwargs: Any
    ) -> None:
        self._check()

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.llm_calls += 1
        usage = (getattr(response, "llm_output", None) or {}).get("token_usage") or {}
        self.total_tokens += int(usage.get("total_tokens", 0) or 0)


class IronCageChain(Runnable[Any, Any]):
    """``IronCageChain(chain, budget=5.0)``, ``IronCageChain(llm=ChatOpenAI(...))`` or
    ``IronCageChain(chain, runtime=rt)``: ``chain`` governed by one runtime for all its calls.
    ``.run(prompt)`` answers the reply's text."""

    def __init__(
        self,
        runnable: Runnable[Any, Any] | None = None,
        runtime: AgentRuntime | None = None,
        *,
        llm: Runnable[Any, Any] | None = None,
        **options: Any,
    ) -> None:
        if (runnable is None) == (llm is None):
            raise ConfigError(
                "IronCageChain takes one runnable: IronCageChain(chain) or IronCageChain(llm=model)"
            )
        self.runnable: Runnable[Any, Any] = runnable if runnable is not None else llm  # type: ignore[assignment]
        self.runtime = runtime if runtime is not None else AgentRuntime(**options)
        self.handler = IronCageCallbackHandler(self.runtime)
        self.instrumented = instrument_runnable(self.runnable, self.runtime)

    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        cfg: RunnableConfig = dict(config or {})  # type: ignore[assignment]
        callbacks = cfg.get("callbacks")
        if callbacks is None:
            cfg["callbacks"] = [self.handler]
        elif isinstance(callbacks, list):
            cfg["callbacks"] = [*callbacks, self.handler]
        else:
            callbacks.add_handler(self.handler)
        return cfg

    def run(self, prompt: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """``invoke``, answering a message's text (``.content``) rather than the message."""
        out = self.invoke(prompt, config, **kwargs)
        content = getattr(out, "content", None)
        return content if isinstance(content, str) else out

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        with self.runtime:
            return self.runnable.invoke(input, self._config(config), **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        async with self.runtime:
            return await self.runnable.ainvoke(input, self._config(config), **kwargs)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        with self.runtime:
            yield from self.runnable.stream(input, self._config(config), **kwargs)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        async with self.runtime:
            async for chunk in self.runnable.astream(input, self._config(config), **kwargs):
                yield chunk
