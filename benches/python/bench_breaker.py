"""Circuit breaker overhead from Python, and throughput next to pybreaker in the same run.

Run: make bench-python   (or: .venv/bin/python benches/python/bench_breaker.py)

1. Decorator overhead: a no-op function with and without @CircuitBreaker.
2. Throughput: 2 threads each call a 1 ms function (time.sleep(0.001), which
   releases the GIL, like a network call) through ONE breaker. pybreaker holds
   its lock around the whole call, so the calls run one at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pybreaker
from timing import ROUNDS, per_call_ns

import iron_cage as ic

CALLS_PER_THREAD = 300


def two_thread_throughput(call: Callable[[], object]) -> float:
    """Calls per second with 2 threads making CALLS_PER_THREAD calls each."""
    start_line = threading.Barrier(2)

    def worker() -> None:
        start_line.wait()
        for _ in range(CALLS_PER_THREAD):
            call()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 2 * CALLS_PER_THREAD / (time.perf_counter() - t0)


def main() -> None:
    def noop() -> None:
        return None

    ours = ic.CircuitBreaker("bench")(noop)
    peer_breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    peer = peer_breaker(noop)
    base = per_call_ns(noop)
    ours_ns = per_call_ns(ours)
    peer_ns = per_call_ns(peer)
    print(f"{ROUNDS} rounds, median per call")
    print("| decorated no-op | per call | overhead |")
    print("|---|---|---|")
    print(f"| plain function | {base / 1000:.3f} µs | — |")
    print(f"| @ic.CircuitBreaker | {ours_ns / 1000:.3f} µs | {(ours_ns - base) / 1000:.3f} µs |")
    print(
        f"| @pybreaker.CircuitBreaker [peer] | {peer_ns / 1000:.3f} µs | {(peer_ns - base) / 1000:.3f} µs |"
    )

    def io_call() -> None:
        time.sleep(0.001)

    ours_io = ic.CircuitBreaker("io")(io_call)
    peer_io = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)(io_call)
    plain = two_thread_throughput(io_call)
    ours_tp = two_thread_throughput(ours_io)
    peer_tp = two_thread_throughput(peer_io)
    print(f"\n2 threads x {CALLS_PER_THREAD} calls of a 1 ms function through one breaker")
    print("| | calls/s |")
    print("|---|---|")
    print(f"| no breaker | {plain:.0f} |")
    print(f"| ic.CircuitBreaker | {ours_tp:.0f} |")
    print(f"| pybreaker [peer] | {peer_tp:.0f} |")
    print(f"\nthroughput ratio iron-cage / pybreaker: {ours_tp / peer_tp:.2f}x")


if __name__ == "__main__":
    main()
