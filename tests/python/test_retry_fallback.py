"""ic.retry (backoff, jitter, Retry-After, classification) and ic.FallbackChain (tiers, shares, breakers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import iron_cage as ic
from iron_cage import _core
from test_breaker import HTTPError


def flaky(failures: list[BaseException], result: str = "ok") -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    return calls, fn


def test_retries_transient_failures_with_growing_jittered_delays() -> None:
    slept: list[float] = []
    calls, fn = flaky([HTTPError(503), HTTPError(502), ConnectionError("reset")])
    wrapped = ic.retry(max_attempts=4, base_delay_s=1.0, max_delay_s=3.0, seed=42, sleep=slept.append)(fn)
    assert wrapped() == "ok"
    assert len(calls) == 4
    assert len(slept) == 3
    for attempt, delay in enumerate(slept, start=1):
        assert 0.0 <= delay <= min(3.0, 2 ** (attempt - 1)), (attempt, delay)
    assert len(set(slept)) == 3, "full jitter: delays differ"


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    slept: list[float] = []
    calls, fn = flaky([HTTPError(500)] * 5)
    wrapped = ic.retry(max_attempts=3, sleep=slept.append)(fn)
    with pytest.raises(HTTPError):
        wrapped()
    assert (len(calls), len(slept)) == (3, 2)


@pytest.mark.parametrize(
    "exc", [HTTPError(400), HTTPError(401), ic.BudgetExceededError("no"), ic.CircuitOpenError("open")]
)
def test_does_not_retry_client_errors_or_own_refusals(exc: BaseException) -> None:
    slept: list[float] = []
    calls, fn = flaky([exc])
    with pytest.raises(type(exc)):
        ic.retry(sleep=slept.append)(fn)()
    assert (len(calls), slept) == (1, [])


def test_waits_at_least_retry_after() -> None:
    slept: list[float] = []
    _, fn = flaky([HTTPError(429, {"Retry-After": "7"})])
    assert ic.retry(base_delay_s=0.1, max_delay_s=0.2, sleep=slept.append)(fn)() == "ok"
    assert slept == [7.0]


def test_max_elapsed_stops_before_a_delay_that_would_pass_it() -> None:
    slept: list[float] = []
    calls, fn = flaky([HTTPError(429, {"retry-after": "100"})] * 3)
    with pytest.raises(HTTPError):
        ic.retry(max_attempts=5, max_elapsed_s=50, sleep=slept.append)(fn)()
    assert (len(calls), slept) == (1, [])


def test_async_retry() -> None:
    attempts = 0

    @ic.retry(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)
    async def fetch() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise TimeoutError("slow")
        return "done"

    assert asyncio.run(fetch()) == "done"
    assert attempts == 3


def test_retry_policy_validation_and_retry_after_parsing() -> None:
    with pytest.raises(ic.ConfigError):
        ic.retry(max_attempts=0)
    with pytest.raises(ic.ConfigError):
        ic.retry(base_delay_s=5, max_delay_s=1)
    assert _core.parse_retry_after("3") == 3.0
    assert _core.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _core.parse_retry_after("later") is None


def test_fallback_serves_from_the_first_tier_that_works() -> None:
    live_up = False

    def live(lead: int) -> str:
        if not live_up:
            raise ConnectionError("LinkedIn API down")
        return f"live:{lead}"

    def cached(lead: int) -> str:
        if lead % 50 == 0:
            raise KeyError(lead)
        return f"cache:{lead}"

    def placeholder(lead: int) -> str:
        return f"unknown:{lead}"

    chain = ic.FallbackChain([("live", live), ("cache", cached), ("placeholder", placeholder)])
    assert [chain(i) for i in (1, 50)] == ["cache:1", "unknown:50"]
    live_up = True
    assert chain(2) == "live:2"
    stats = chain.stats()
    assert stats["tiers"] == [
        {"name": "live", "attempts": 3, "successes": 1},
        {"name": "cache", "attempts": 2, "successes": 1},
        {"name": "placeholder", "attempts": 1, "successes": 1},
    ]
    assert stats["fallback_share"] == pytest.approx(2 / 3)
    assert chain.summary() == "67% via fallback (live 1, cache 1, placeholder 1)"


def test_fallback_exhausted_keeps_every_error() -> None:
    def a() -> None:
        raise ValueError("a")

    def b() -> None:
        raise KeyError("b")

    chain = ic.FallbackChain([a, b])
    with pytest.raises(ic.FallbackExhaustedError, match=r"a: ValueError, b: KeyError") as info:
        chain()
    assert [type(e) for e in info.value.errors] == [ValueError, KeyError]
    assert chain.stats()["exhausted"] == 1
    with pytest.raises(ic.ConfigError):
        ic.FallbackChain([])


def test_fallback_skips_an_open_breaker_without_calling_it() -> None:
    breaker = ic.CircuitBreaker("linkedin", failure_threshold=2)
    live_calls = 0

    @breaker
    def live() -> str:
        nonlocal live_calls
        live_calls += 1
        raise ConnectionError("down")

    chain = ic.FallbackChain([live, lambda: "cached"])
    results = [chain() for _ in range(100)]
    assert results == ["cached"] * 100
    assert live_calls == 2, "after two failures the breaker stops calling the live API"
    assert chain.summary().startswith("100% via fallback")
    assert breaker.metrics()["rejected"] == 98


def test_async_fallback() -> None:
    async def live() -> str:
        raise TimeoutError

    async def cache() -> str:
        return "cached"

    assert asyncio.run(ic.FallbackChain([live, cache]).call_async()) == "cached"
