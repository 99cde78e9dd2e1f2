"""Timing helpers shared by the Python benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

ROUNDS = 15


def per_call_ns(fn: Callable[[], object], number: int = 20_000, rounds: int = ROUNDS) -> float:
    """Median over `rounds` of the mean time per call in a batch of `number` calls, after a warm-up."""
    for _ in range(max(1, number // 10)):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter_ns() - start) / number)
    return statistics.median(samples)
