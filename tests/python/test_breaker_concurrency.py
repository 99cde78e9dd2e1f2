"""A half-open breaker under a stampede: exactly half_open_max_calls probes reach the service."""

from __future__ import annotations

import asyncio
import threading

import pytest

import iron_cage as ic
from iron_cage.testing import ManualClock

CALLERS = 100


def half_open_breaker(max_calls: int) -> ic.CircuitBreaker:
    clock = ManualClock()
    b = ic.CircuitBreaker(
        "svc", failure_threshold=1, cooldown_s=10, half_open_max_calls=max_calls, clock=clock
    )
    with pytest.raises(RuntimeError):
        b.call(lambda: (_ for _ in ()).throw(RuntimeError("down")))
    clock.advance(10)
    assert b.state == "half_open"
    return b


@pytest.mark.parametrize("max_calls", [1, 3])
def test_threads(max_calls: int) -> None:
    b = half_open_breaker(max_calls)
    reached: list[int] = []
    rejected: list[ic.CircuitOpenError] = []
    lock = threading.Lock()
    everyone_tried = threading.Event()
    start = threading.Barrier(CALLERS)

    def service(i: int) -> int:
        with lock:
            reached.append(i)
        # Hold the probe until every other caller has been turned away, so a
        # probe finishing early cannot close the breaker and admit more.
        assert everyone_tried.wait(10)
        return i

    def caller(i: int) -> None:
        start.wait()
        try:
            b.call(service, i)
        except ic.CircuitOpenError as exc:
            with lock:
                rejected.append(exc)
                if len(rejected) == CALLERS - max_calls:
                    everyone_tried.set()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reached) == max_calls
    assert len(rejected) == CALLERS - max_calls
    assert {e.state for e in rejected} == {"half_open"}
    assert b.state == "closed", "the probes succeeded"


@pytest.mark.parametrize("max_calls", [1, 3])
def test_asyncio_tasks(max_calls: int) -> None:
    async def main() -> tuple[int, int, str]:
        b = half_open_breaker(max_calls)
        reached = 0
        rejected = 0
        everyone_tried = asyncio.Event()

        async def service() -> None:
            nonlocal reached
            reached += 1
            await everyone_tried.wait()

        async def caller() -> None:
            nonlocal rejected
            try:
                await b.call_async(service)
            except ic.CircuitOpenError:
                rejected += 1
                if rejected == CALLERS - max_calls:
                    everyone_tried.set()

        await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(CALLERS))), 10)
        return reached, rejected, b.state

    assert asyncio.run(main()) == (max_calls, CALLERS - max_calls, "closed")


def test_cancelled_probe_frees_its_permit() -> None:
    async def main() -> list[str]:
        b = half_open_breaker(1)
        hang = asyncio.Event()
        probe = asyncio.create_task(b.call_async(hang.wait))
        await asyncio.sleep(0)
        with pytest.raises(ic.CircuitOpenError):
            await b.call_async(asyncio.sleep, 0)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        states = [b.state]
        await b.call_async(asyncio.sleep, 0)  # the freed slot admits the next probe
        states.append(b.state)
        return states

    assert asyncio.run(main()) == ["half_open", "closed"]


def test_probe_that_raises_a_neutral_error_frees_its_permit() -> None:
    b = half_open_breaker(1)
    with pytest.raises(ic.BudgetExceededError):
        b.call(lambda: (_ for _ in ()).throw(ic.BudgetExceededError("no budget")))
    assert b.state == "half_open"
    assert b.call(lambda: "ok") == "ok"
    assert b.state == "closed"
