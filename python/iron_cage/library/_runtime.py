"""Library mode: ``AgentRuntime`` and ``protect_agent``."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from contextvars import Token
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from iron_cage import _core, _keys, _lease
from iron_cage._events import Events
from iron_cage._pii import PiiScanner
from iron_cage._policy import (
    BreakerArg,
    EgressArg,
    IngressArg,
    breaker_for,
    budget_for,
    pii_policies,
    safety_for,
    scanner_for,
)
from iron_cage.library import _instrument, _tools
from iron_cage.library._context import CURRENT, SENDING_GOVERNED

C = TypeVar("C")
R = TypeVar("R", bound="AgentRuntime")
F = TypeVar("F", bound=Callable[..., Any])


def _context_key() -> tuple[int, int]:
    try:
        task = id(asyncio.current_task())
    except RuntimeError:
        task = 0
    return (threading.get_ident(), task)


def current_runtime() -> AgentRuntime | None:
    """The innermost runtime entered in this context (thread / asyncio task), if any."""
    return CURRENT.get()


class AgentRuntime(Events):
    """Governs every LLM call made in its scope, in-process.

    ``with AgentRuntime(budget=10.0) as rt:`` — calls of openai and anthropic
    clients (sync and async, streaming included; LangChain and other frameworks
    built on them) are priced and reserved before they are sent (a call that
    could overspend raises :class:`BudgetExceededError` without being sent; a
    request without ``max_tokens`` is capped at what the budget pays for),
    charged from the provider's usage, their replies scanned for PII
    (``safety_mode``), and guarded by a breaker per model
    (:class:`CircuitOpenError`). With ``auto_instrument=True`` (default) every
    request sent in the scope is governed, whenever and however its client was
    made (before the scope, with its own ``http_client``, by a framework); one
    that cannot be governed raises :class:`UngovernedRequestError` unsent.
    ``rt.instrument(client)`` binds a client to this runtime, in or out of a scope.
    What requests send is scanned too (``egress``): by default credentials are refused
    before anything is sent and other PII leaves as stable placeholders (``<EMAIL_1>``)
    that are put back in the reply, so the provider never sees the values;
    ``egress="off"``, ``"redact"``, ... or ``{"EMAIL": "redact"}`` change that.
    Tools: ``allowed_tools`` refuses requests offering, replies asking for and runs of any
    other tool; ``tool_limits`` caps runs per tool (``"*"``: each); ``tool_breakers`` puts a
    breaker on each; tool functions run under them with ``rt.tool(fn)``,
    ``@ic.governed_tool`` or as LangChain tools in the scope (``tool_call`` events).
    Replies get ``safety_mode`` for every entity unless ``ingress`` names some
    (``{"EMAIL": "allow", "API_KEY": "block"}``).
    Images, documents and audio are reserved at their worst case; a request
    whose cost has no bound (server-side tools) is refused under a budget unless
    ``unbounded_reserve_usd`` states an amount to reserve for it.
    The budget lives in a context variable: nested and concurrent runtimes
    (threads, asyncio tasks) each keep their own.
    """

    def __init__(
        self,
        budget: float | int | str | Decimal | _core.Budget | None = 100.0,
        safety_mode: str | None = "redact",
        circuit_breaker: BreakerArg = True,
        *,
        pii_detection: bool | None = None,
        auto_instrument: bool = True,
        pii: PiiScanner | None = None,
        failure_threshold: int = 5,
        cooldown_s: float = 60.0,
        name: str = "agent",
        control_panel: _lease.ServerArg | None = None,
        ic_token: str | None = None,
        outbox_path: str | os.PathLike[str] | None = None,
        unbounded_reserve_usd: float | None = None,
        egress: EgressArg = "default",
        ingress: IngressArg = None,
        allowed_tools: Iterable[str] | None = None,
        tool_limits: Mapping[str, int] | None = None,
        tool_breakers: bool | Mapping[str, float] = False,
        record_tool_args: bool = False,
    ) -> None:
        scanner = scanner_for(safety_for(safety_mode, pii_detection), pii)
        breaker, failure_threshold, cooldown_s = breaker_for(circuit_breaker, failure_threshold, cooldown_s)
        self._remote = _lease.resolve(control_panel, ic_token, "control_panel= and ic_token=")
        egress_policy, ingress_policy, egress_scanner = pii_policies(
            egress, ingress, scanner, remote=self._remote is not None
        )
        self._lease: _lease.ControlPanelLease | None = None
        self._key_proxy: _keys.KeyProxy | None = None
        self._outbox_path = outbox_path
        if self._remote is not None:
            # The budget follows the lease; `budget` is the most one lease asks for.
            self.budget: _core.Budget | None = _lease.leased_budget(budget, "control_panel=...", name)
            self._slice = cast("float | int | str | Decimal", budget)
        else:
            self.budget = budget_for(budget, name)
        self.name = name
        self.auto_instrument = auto_instrument
        self._core = _core.GovernorCore(
            budget=self.budget,
            scanner=scanner._core if scanner is not None else None,
            circuit_breaker=breaker,
            failure_threshold=failure_threshold,
            cooldown_s=cooldown_s,
            unbounded_reserve_usd=unbounded_reserve_usd,
            egress=egress_policy,
            egress_scanner=egress_scanner,
            ingress=ingress_policy,
        )
        self._tools = _tools.ToolGovernor(
            self._emit, allowed_tools, tool_limits, tool_breakers, record_tool_args
        )
        # Entered once per thread / asyncio task at a time; each needs its own reset token.
        self._tokens: dict[tuple[int, int], list[Token[AgentRuntime | None]]] = {}
        self._latencies: list[float] = []
        self._open_streams: weakref.WeakSet[Any] = weakref.WeakSet()
        if auto_instrument:
            _instrument.install_auto_instrument()
        self._open_lease()

    # -- Control Panel lease -------------------------------------------------
    def _open_lease(self) -> None:
        if self._remote is None or self._lease is not None:
            return
        server_url, token = self._remote
        self._lease = _lease.ControlPanelLease(
            self.budget,  # type: ignore[arg-type]  # always a Budget in Control Panel mode
            server_url,
            token,
            slice_usd=self._slice,
            outbox_path=self._outbox_path,
            runtime=f"library:{self.name}",
        )
        self._lease.attach(self._core)
        if self._lease.has_provider_key:
            # The key is sealed to the Rust core; calls go out through its key proxy.
            self._key_proxy = _keys.KeyProxy(self._lease)

    @property
    def lease(self) -> _lease.ControlPanelLease | None:
        """The Control Panel lease behind the budget (``None`` in local mode)."""
        return self._lease

    def close(self) -> None:
        """Flushes usage reports and returns the lease (Control Panel mode); idempotent.
        Leaving the last ``with`` block does this too."""
        if self._key_proxy is not None:
            self._key_proxy.stop()
            self._key_proxy = None
        if self._lease is not None:
            self._lease.close()
            self._lease = None

    # -- scope -------------------------------------------------------------
    def __enter__(self: R) -> R:
        self._open_lease()
        if self.auto_instrument:
            _instrument.install_auto_instrument()
        self._tokens.setdefault(_context_key(), []).append(CURRENT.set(self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        key = _context_key()
        stack = self._tokens[key]
        CURRENT.reset(stack.pop())
        if not stack:
            del self._tokens[key]
        if not self._tokens:  # the last scope closed: nothing may stay reserved
            for stream in list(self._open_streams):
                stream.abandon()
            self.close()

    async def __aenter__(self: R) -> R:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- clients -----------------------------------------------------------
    def tool(self, fn: F | None = None, /, *, name: str | None = None) -> Any:
        """``rt.tool(fn)`` / ``@rt.tool(name="search")``: ``fn`` (sync or async) run under this
        runtime's tool rules (``allowed_tools``, ``tool_limits``, ``tool_breakers``) wherever it
        is called, each call a ``tool_call`` event."""
        if fn is None:
            return lambda f: _tools.bound_tool(self, f, name)
        return _tools.bound_tool(self, fn, name)

    def _emit(self, kind: str, fields: dict[str, Any]) -> None:
        self._core.emit(kind, json.dumps(fields))

    def instrument(self, client: C) -> C:
        """Governs ``client`` (openai/anthropic, sync or async) by this runtime; returns it."""
        _instrument.wrap(client, self)
        return client

    # -- state -------------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        return self._core.spent_usd

    @property
    def remaining_usd(self) -> float | None:
        """USD left (``None`` when there is no limit)."""
        return self._core.remaining_usd if self.budget is not None else None

    def _send(self, mod: Any, transport: Any, request: Any) -> Any:
        """Sends an admitted request (``MockRuntime`` answers in-process instead)."""
        if self._key_proxy is not None:
            request = self._key_proxy.route(request)
        token = SENDING_GOVERNED.set(True)
        try:
            return transport.handle_request(request)
        finally:
            SENDING_GOVERNED.reset(token)

    async def _asend(self, mod: Any, transport: Any, request: Any) -> Any:
        if self._key_proxy is not None:
            request = self._key_proxy.route(request)
        token = SENDING_GOVERNED.set(True)
        try:
            return await transport.handle_async_request(request)
        finally:
            SENDING_GOVERNED.reset(token)

    def _record_latency(self, seconds: float) -> None:
        self._latencies.append(seconds)  # list.append is atomic under the GIL

    def metrics(self) -> dict[str, Any]:
        """Calls, refusals, failures, tokens, cost by model, PII findings, breaker states,
        upstream latency percentiles (ms), and per tool its runs, errors, refusals and the
        calls models asked for (``tools``)."""
        result: dict[str, Any] = json.loads(self._core.metrics_json())
        lat = sorted(self._latencies)
        if lat:

            def pick(p: float) -> float:
                return round(lat[min(len(lat) - 1, int(p * (len(lat) - 1) + 0.5))] * 1000, 3)

            result["latency_ms"] = {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "max": pick(1.0)}
        else:
            result["latency_ms"] = {}
        if self.budget is None:
            result["limit_usd"] = None
        if self._lease is not None:
            result["control_panel"] = self._lease.status()
        result["tools"] = self._tools.metrics()
        return result

    def __repr__(self) -> str:
        limit = "unlimited" if self.budget is None else f"${self._core.limit_usd:.2f}"
        return f"AgentRuntime({self.name!r}, spent=${self.spent_usd:.6f} of {limit})"


@overload
def protect_agent(func: F, /) -> F: ...
@overload
def protect_agent(
    func: None = None,
    /,
    *,
    budget: float | int | str | Decimal | None = ...,
    safety_mode: str | None = ...,
    circuit_breaker: BreakerArg = ...,
    **options: Any,
) -> Callable[[F], F]: ...
def protect_agent(
    func: F | None = None,
    /,
    *,
    budget: float | int | str | Decimal | None = 100.0,
    safety_mode: str | None = "redact",
    circuit_breaker: BreakerArg = True,
    **options: Any,
) -> F | Callable[[F], F]:
    """Runs each call of the decorated function (sync or async) in its own
    :class:`AgentRuntime`: one agent run, one budget. ``@protect_agent`` alone
    uses the defaults ($100, redact, breakers on)."""

    def decorate(f: F) -> F:
        def runtime() -> AgentRuntime:
            return AgentRuntime(
                budget=budget,
                safety_mode=safety_mode,
                circuit_breaker=circuit_breaker,
                name=f.__name__,
                **options,
            )

        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with runtime():
                    return await f(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with runtime():
                return f(*args, **kwargs)

        return cast(F, wrapper)

    return decorate(func) if func is not None else decorate
