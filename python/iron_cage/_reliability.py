"""Circuit breakers, retries and fallback chains for any Python callable.

The state machine, the counters and the backoff arithmetic are in Rust
(``iron_cage._core``); this module runs the protected calls. No lock is held
while a call runs: the breaker decides admission in a short critical section
and the call's outcome is reported on a permit afterwards, so calls through one
breaker run concurrently (pybreaker serialises them under one lock).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from iron_cage import _core
from iron_cage._exceptions import (
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    FallbackExhaustedError,
    PiiBlockedError,
)

P = ParamSpec("P")
R = TypeVar("R")

#: iron-cage's own refusals: the service was never asked, so they say nothing about its health.
_NEUTRAL: tuple[type[BaseException], ...] = (
    BudgetExceededError,
    PiiBlockedError,
    ConfigError,
    CircuitOpenError,
)


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` header on the exception's HTTP response, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        # httpx.Headers is case-insensitive; plain dicts are not.
        value = headers.get("retry-after") or headers.get("Retry-After")
    except Exception:
        return None
    return _core.parse_retry_after(str(value)) if value is not None else None


def default_is_failure(exc: BaseException) -> bool | None:
    """The default classification of an exception raised by a protected call.

    ``True``: counts against the breaker (timeouts, connection errors, HTTP 408,
    429 and 5xx, and any other exception from a plain function). ``False``: the
    service answered (HTTP 4xx other than 408/429), so it counts as healthy.
    ``None``: neutral, iron-cage's own refusals (budget, PII, configuration).
    """
    if isinstance(exc, _NEUTRAL):
        return None
    status = _status_of(exc)
    if status is not None:
        return _core.status_is_failure(status)
    return True


_Classifier = Callable[[BaseException], "bool | None"]


# Set by a supervised agent's bootstrap (iron_cage.supervisor): state changes of every breaker
# made in this process are reported, and breakers named in the configuration take its settings.
_state_observers: list[Callable[[str, str, str], object]] = []
_configured: dict[str, dict[str, float]] = {}


def observe_breakers(callback: Callable[[str, str, str], object]) -> None:
    """``callback(name, from_state, to_state)`` for every :class:`CircuitBreaker` made from now on."""
    _state_observers.append(callback)


def configure_breakers(settings: dict[str, dict[str, float]]) -> None:
    """``{"linkedin": {"failure_threshold": 3, "cooldown_s": 30}}``: breakers made from now on
    with one of these names use these settings over their arguments."""
    _configured.update(settings)


class CircuitBreaker:
    """A named circuit breaker for sync functions and coroutines.

    Use it as a decorator, as ``with breaker:`` / ``async with breaker:``, or as
    ``breaker.call(fn, *args)`` / ``await breaker.call_async(fn, *args)``.
    Rejections raise :class:`CircuitOpenError` with ``retry_after_s``.
    ``is_failure(exc)`` classifies exceptions (see :func:`default_is_failure`).
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        cooldown_s: float = 60.0,
        half_open_max_calls: int = 1,
        *,
        success_threshold: int = 1,
        failure_rate: float | None = None,
        window: int = 20,
        min_calls: int = 10,
        cooldown_multiplier: float = 1.0,
        max_cooldown_s: float | None = None,
        is_failure: _Classifier = default_is_failure,
        cost_estimate_usd: float = 0.0,
        clock: _core.ManualClock | None = None,
    ) -> None:
        configured = _configured.get(name)
        if configured:
            failure_threshold = int(configured.get("failure_threshold", failure_threshold))
            cooldown_s = float(configured.get("cooldown_s", cooldown_s))
        self._core = _core.BreakerCore(
            name,
            failure_threshold=failure_threshold,
            cooldown_s=cooldown_s,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            failure_rate=failure_rate,
            window=window,
            min_calls=min_calls,
            cooldown_multiplier=cooldown_multiplier,
            max_cooldown_s=max_cooldown_s,
            clock=clock,
        )
        self.name = name
        self._is_failure = is_failure
        self._cost = cost_estimate_usd
        # Permits of `with` blocks, per thread and per asyncio task.
        self._entered: contextvars.ContextVar[tuple[_core.BreakerPermit, ...]] = contextvars.ContextVar(
            f"iron_cage_breaker_{name}", default=()
        )
        for observer in _state_observers:
            self._core.on_state_change(observer)

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"``."""
        return self._core.state

    def metrics(self) -> dict[str, Any]:
        """Calls, successes, failures, rejections, estimated cost saved, trips, seconds per state."""
        return self._core.metrics()

    def open(self) -> None:
        """Open until :meth:`close` or :meth:`reset`."""
        self._core.force_open()

    def close(self) -> None:
        self._core.close()

    def reset(self) -> None:
        """Close and forget the trip history (cooldown growth)."""
        self._core.reset()

    def on_state_change(self, callback: Callable[[str, str, str], object]) -> None:
        """``callback(name, from_state, to_state)`` on every transition."""
        self._core.on_state_change(callback)

    def _settle(self, permit: _core.BreakerPermit, exc: BaseException | None) -> None:
        if exc is None:
            permit.success()
            return
        verdict = (
            None if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)) else self._is_failure(exc)
        )
        if verdict is None:
            permit.release()
        elif verdict:
            permit.failure(retry_after_of(exc))
        else:
            permit.success()

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        permit = self._core.admit(self._cost)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._settle(permit, exc)
            raise
        permit.success()
        return result

    async def call_async(self, fn: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
        permit = self._core.admit(self._cost)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._settle(permit, exc)
            raise
        permit.success()
        return result

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await self.call_async(fn, *args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return self.call(fn, *args, **kwargs)

        return wrapper

    def __enter__(self) -> CircuitBreaker:
        permit = self._core.admit(self._cost)
        self._entered.set((*self._entered.get(), permit))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack = self._entered.get()
        if not stack:
            raise RuntimeError(f"circuit breaker {self.name!r}: __exit__ without a matching __enter__")
        self._entered.set(stack[:-1])
        self._settle(stack[-1], exc)

    async def __aenter__(self) -> CircuitBreaker:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.state!r})"


def retry(
    *,
    max_attempts: int = 3,
    base_delay_s: float = 0.5,
    max_delay_s: float = 30.0,
    multiplier: float = 2.0,
    max_elapsed_s: float | None = None,
    retry_on: _Classifier = default_is_failure,
    seed: int | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retries a sync or async function with exponential backoff and full jitter.

    Only exceptions that ``retry_on`` classifies as failures are retried (not
    4xx client errors, budget or PII refusals, nor an open circuit). A
    ``Retry-After`` on the error's HTTP response is waited for at least.
    """
    policy = _core.RetryPolicy(
        max_attempts=max_attempts,
        base_delay_s=base_delay_s,
        max_delay_s=max_delay_s,
        multiplier=multiplier,
        max_elapsed_s=max_elapsed_s,
        seed=seed,
    )

    def next_delay(exc: BaseException, attempt: int, started: float) -> float | None:
        if retry_on(exc) is not True:
            return None
        delay = policy.delay(attempt, retry_after_of(exc))
        return delay if policy.should_retry(attempt, time.monotonic() - started, delay) else None

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                started = time.monotonic()
                attempt = 1
                while True:
                    try:
                        return await fn(*args, **kwargs)
                    except Exception as exc:
                        delay = next_delay(exc, attempt, started)
                        if delay is None:
                            raise
                    await asyncio.sleep(delay)
                    attempt += 1

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.monotonic()
            attempt = 1
            while True:
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:
                    delay = next_delay(exc, attempt, started)
                    if delay is None:
                        raise
                sleep(delay)
                attempt += 1

        return wrapper

    return decorate


class FallbackChain:
    """Ordered tiers (live API → cache → placeholder): the first that succeeds serves the call.

    ``FallbackChain([live, cached, placeholder])`` or with names:
    ``FallbackChain([("live", live), ("cache", cached)])``. Tiers receive the
    call's arguments. A tier wrapped in a :class:`CircuitBreaker` that is open
    is skipped at once. ``stats()`` reports per-tier counts and the share served
    by fallback; ``summary()`` says it the way the dashboard does (``98% via fallback``).
    """

    def __init__(self, tiers: Sequence[Callable[..., Any] | tuple[str, Callable[..., Any]]]) -> None:
        if not tiers:
            raise ConfigError("a FallbackChain needs at least one tier")
        named: list[tuple[str, Callable[..., Any]]] = []
        for i, tier in enumerate(tiers):
            if isinstance(tier, tuple):
                named.append(tier)
            else:
                named.append((getattr(tier, "__name__", f"tier{i}"), tier))
        self._tiers = named
        self._stats = _core.FallbackStats([n for n, _ in named])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        errors: list[BaseException] = []
        for i, (_, fn) in enumerate(self._tiers):
            self._stats.attempt(i)
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                errors.append(exc)
                continue
            self._stats.success(i)
            return result
        raise self._exhausted(errors)

    async def call_async(self, *args: Any, **kwargs: Any) -> Any:
        """Like calling the chain, awaiting tiers that are coroutine functions."""
        errors: list[BaseException] = []
        for i, (_, fn) in enumerate(self._tiers):
            self._stats.attempt(i)
            try:
                result = fn(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                errors.append(exc)
                continue
            self._stats.success(i)
            return result
        raise self._exhausted(errors)

    def _exhausted(self, errors: Sequence[BaseException]) -> FallbackExhaustedError:
        self._stats.exhausted()
        parts = ", ".join(
            f"{name}: {type(e).__name__}" for (name, _), e in zip(self._tiers, errors, strict=False)
        )
        exc = FallbackExhaustedError(f"every tier of the fallback chain failed ({parts})", errors)
        exc.__cause__ = errors[-1]
        return exc

    def stats(self) -> dict[str, Any]:
        tiers = [{"name": n, "attempts": a, "successes": s} for n, a, s in self._stats.tiers()]
        return {
            "tiers": tiers,
            "exhausted": self._stats.exhausted_count,
            "fallback_share": self._stats.fallback_share,
        }

    def summary(self) -> str:
        """For example ``"98% via fallback (live 2, cache 98)"``."""
        counts = ", ".join(f"{n} {s}" for n, _, s in self._stats.tiers())
        return f"{self._stats.fallback_share:.0%} via fallback ({counts})"
