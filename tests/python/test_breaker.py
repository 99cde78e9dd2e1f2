"""CircuitBreaker on a controllable clock: trips, cooldowns, probes, classification, Python forms."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import iron_cage as ic
from iron_cage.testing import ManualClock


class HTTPError(Exception):
    """The shape of openai/anthropic/httpx status errors: .status_code and .response.headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.response = type("Response", (), {"headers": headers or {}, "status_code": status})()


def failing(exc: BaseException) -> Any:
    def fn() -> None:
        raise exc

    return fn


def trip(b: ic.CircuitBreaker, n: int, exc: BaseException | None = None) -> None:
    for _ in range(n):
        with pytest.raises(type(exc) if exc else RuntimeError):
            b.call(failing(exc or RuntimeError("down")))


def test_opens_after_threshold_then_half_open_then_closes() -> None:
    clock = ManualClock()
    b = ic.CircuitBreaker(
        "linkedin", failure_threshold=3, cooldown_s=30.0, clock=clock, cost_estimate_usd=0.02
    )
    trip(b, 2)
    assert b.call(lambda: "ok") == "ok"
    trip(b, 3)
    assert b.state == "open"
    calls: list[int] = []
    with pytest.raises(ic.CircuitOpenError) as info:
        b.call(lambda: calls.append(1))
    assert calls == []
    assert (info.value.breaker, info.value.state, info.value.retry_after_s) == ("linkedin", "open", 30.0)
    clock.advance(29.5)
    with pytest.raises(ic.CircuitOpenError) as info2:
        b.call(lambda: None)
    assert info2.value.retry_after_s == pytest.approx(0.5)
    clock.advance(0.5)
    assert b.state == "half_open"
    assert b.call(lambda: "probe ok") == "probe ok"
    assert b.state == "closed"
    m = b.metrics()
    assert (m["calls"], m["failures"], m["successes"], m["rejected"], m["trips"]) == (7, 5, 2, 2, 1)
    assert m["cost_saved_usd"] == pytest.approx(0.04)
    assert m["seconds_in_state"]["open"] == pytest.approx(30.0)


def test_failed_probe_reopens_with_growth() -> None:
    clock = ManualClock()
    b = ic.CircuitBreaker(
        "x", failure_threshold=1, cooldown_s=10, cooldown_multiplier=2.0, max_cooldown_s=30, clock=clock
    )
    trip(b, 1)
    for expected in (20.0, 30.0):
        clock.advance(100)
        trip(b, 1)
        with pytest.raises(ic.CircuitOpenError) as info:
            b.call(lambda: None)
        assert info.value.retry_after_s == expected
    b.reset()
    trip(b, 1)
    with pytest.raises(ic.CircuitOpenError) as info:
        b.call(lambda: None)
    assert info.value.retry_after_s == 10.0, "reset forgets the trip history"


def test_llm_classification() -> None:
    clock = ManualClock()
    b = ic.CircuitBreaker("openai/gpt-4o", failure_threshold=2, cooldown_s=5, clock=clock)
    for status in (400, 401, 404, 422):
        trip(b, 1, HTTPError(status))
    assert b.state == "closed", "client errors mean the service answered"
    budget_refusal = ic.BudgetExceededError("over")
    trip(b, 5, budget_refusal)
    assert b.state == "closed", "our own refusals are neutral"
    assert b.metrics()["failures"] == 0
    trip(b, 1, HTTPError(503))
    trip(b, 1, HTTPError(429, {"retry-after": "120"}))
    assert b.state == "open"
    with pytest.raises(ic.CircuitOpenError) as info:
        b.call(lambda: None)
    assert info.value.retry_after_s == 120.0, "Retry-After outlasts the 5 s cooldown"


def test_custom_classifier() -> None:
    b = ic.CircuitBreaker("x", failure_threshold=1, is_failure=lambda e: not isinstance(e, KeyError))
    trip(b, 3, KeyError("expected"))
    assert b.state == "closed"
    trip(b, 1, ValueError("bad"))
    assert b.state == "open"


def test_decorator_context_managers_sync_and_async() -> None:
    b = ic.CircuitBreaker("x", failure_threshold=2)

    @b
    def double(x: int) -> int:
        return 2 * x

    @b
    async def triple(x: int) -> int:
        return 3 * x

    assert double(4) == 8
    assert double.__name__ == "double"
    assert asyncio.run(triple(2)) == 6
    with pytest.raises(RuntimeError), b:
        raise RuntimeError("inside with")

    async def use_async_with() -> None:
        async with b:
            raise RuntimeError("inside async with")

    with pytest.raises(RuntimeError):
        asyncio.run(use_async_with())
    assert b.state == "open"
    with pytest.raises(ic.CircuitOpenError), b:
        pass
    with pytest.raises(ic.CircuitOpenError):
        asyncio.run(triple(1))


def test_manual_controls_and_events() -> None:
    b = ic.CircuitBreaker("x")
    seen: list[tuple[str, str, str]] = []
    b.on_state_change(lambda *e: seen.append(e))
    b.open()
    assert b.state == "open"
    with pytest.raises(ic.CircuitOpenError):
        b.call(lambda: None)
    b.close()
    assert b.call(lambda: 1) == 1
    assert seen == [("x", "closed", "open"), ("x", "open", "closed")]


def test_late_result_from_before_a_trip_is_ignored() -> None:
    b = ic.CircuitBreaker("x", failure_threshold=1)
    inside = threading.Event()
    release = threading.Event()

    def slow() -> str:
        inside.set()
        release.wait(5)
        return "late"

    t = threading.Thread(target=lambda: b.call(slow))
    t.start()
    inside.wait(5)
    trip(b, 1)
    release.set()
    t.join()
    assert b.state == "open", "a success that started before the trip must not close it"


def test_calls_run_concurrently_no_lock_held() -> None:
    b = ic.CircuitBreaker("x")
    both_inside = threading.Barrier(2, timeout=5)

    def meet() -> bool:
        both_inside.wait()  # raises BrokenBarrierError if the calls were serialised
        return True

    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(b.call(meet))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True, True]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"half_open_max_calls": 0},
        {"success_threshold": 0},
        {"failure_rate": 1.5},
        {"failure_rate": 0.5, "window": 5, "min_calls": 6},
        {"cooldown_s": -1.0},
        {"cooldown_multiplier": 0.5},
    ],
)
def test_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ic.ConfigError):
        ic.CircuitBreaker("x", **kwargs)


def test_rate_mode() -> None:
    b = ic.CircuitBreaker("x", failure_rate=0.5, window=10, min_calls=4)
    for _ in range(3):
        b.call(lambda: None)
    trip(b, 2)
    assert b.state == "closed", "2 of 5 < 50%"
    trip(b, 1)
    assert b.state == "open", "3 of 6 = 50%"
