"""Properties of the ledger under concurrency: never over the limit, every micro-dollar accounted for."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

import iron_cage as ic

THREADS = 16

# An operation: ("reserve", micros) | ("commit", percent of the reservation) | ("release", _) | ("drop", _)
op = st.one_of(
    st.tuples(st.just("reserve"), st.integers(0, 400_000)),
    st.tuples(st.just("commit"), st.integers(0, 100)),
    st.tuples(st.just("release"), st.just(0)),
    st.tuples(st.just("drop"), st.just(0)),
)


def usd(micros: int) -> str:
    return str(Decimal(micros) / Decimal(1_000_000))


@contextmanager
def fast_thread_switching() -> Iterator[None]:
    """Switch threads as often as possible so Python-level interleavings really vary."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@given(
    limit=st.integers(0, 3_000_000),
    plans=st.lists(st.lists(op, max_size=30), min_size=THREADS, max_size=THREADS),
)
def test_no_interleaving_exceeds_the_limit_and_all_micros_are_accounted(
    limit: int, plans: list[list[tuple[str, int]]]
) -> None:
    budget = ic.Budget(usd(limit), thresholds=[0.5, 0.9])
    fired: Counter[float] = Counter()
    budget.on_threshold(lambda e: fired.update([e.threshold]))
    committed = [0] * THREADS
    commits = [0] * THREADS
    violations: list[tuple[int, int, int, int, int]] = []
    start = threading.Barrier(THREADS + 1)
    done = threading.Event()

    def worker(i: int) -> None:
        pending: list[ic.Reservation] = []
        start.wait()
        for kind, n in plans[i]:
            if kind == "reserve":
                with contextlib.suppress(ic.BudgetExceededError):
                    pending.append(budget.reserve(usd(n)))
            elif pending and kind == "commit":
                r = pending.pop(0)
                actual = r.amount_micros * n // 100
                r.commit(usd(actual))
                committed[i] += actual
                commits[i] += 1
            elif pending and kind == "release":
                pending.pop(0).release()
            elif pending and kind == "drop":
                del pending[0]  # garbage-collected unsettled: must release
        for r in pending:
            r.release()

    def monitor() -> None:
        start.wait()
        while not done.is_set():
            snap = budget.snapshot_micros()
            lim, spent, reserved, _remaining, _overrun = snap
            if spent + reserved > lim:
                violations.append(snap)

    with fast_thread_switching():
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        watcher = threading.Thread(target=monitor)
        for t in [*threads, watcher]:
            t.start()
        for t in threads:
            t.join()
        done.set()
        watcher.join()

    lim, spent, reserved, remaining, overrun = budget.snapshot_micros()
    assert violations == []
    assert spent == sum(committed), "every committed micro-dollar is in spent, and nothing else"
    assert (reserved, overrun) == (0, 0)
    assert remaining == lim - spent
    assert spent <= limit
    for threshold in (0.5, 0.9):
        # Thresholds are evaluated when spend is committed; once crossed they fire exactly once.
        crossed = spent * 1_000_000 >= limit * round(threshold * 1_000_000)
        expected = 1 if crossed and sum(commits) > 0 else 0
        assert fired[threshold] == expected, (threshold, spent, limit, fired)


@given(
    limit=st.integers(0, 1_000_000),
    asks=st.lists(st.integers(0, 300_000), max_size=50),
)
def test_parent_and_children_never_exceed_either_limit(limit: int, asks: list[int]) -> None:
    parent = ic.Budget(usd(limit))
    kids = [parent.child(usd(limit // 2 + 1), name=f"k{i}") for i in range(3)]
    held: list[ic.Reservation] = []
    for i, ask in enumerate(asks):
        kid = kids[i % 3]
        with contextlib.suppress(ic.BudgetExceededError):
            held.append(kid.reserve(usd(ask)))
        p = parent.snapshot_micros()
        assert p[1] + p[2] <= p[0]
        for k in kids:
            s = k.snapshot_micros()
            assert s[1] + s[2] <= s[0]
    assert sum(r.amount_micros for r in held) == parent.snapshot_micros()[2]
    for r in held:
        r.commit(usd(r.amount_micros))
    assert parent.snapshot_micros()[1] == sum(k.snapshot_micros()[1] for k in kids)
