"""Why library mode costs more inside a real call than in a loop: the same operations
timed with the CPU caches evicted before each one (a 16 MiB copy), as the SDK's ~1 ms
of Python between our calls does. Run: `.venv/bin/python benches/python/bench_cold.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import iron_cage as ic

BIG = bytearray(16 << 20)
N = 300
REQUEST = json.dumps(
    {
        "model": "gpt-4o-mini",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Summarise the report."}],
    }
).encode()
REPLY = json.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A short answer."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }
).encode()


def timed(fn: Callable[[], object], cold: bool) -> float:
    fn()  # one-time initialisation (tokenizer tables) is not what is measured
    total = 0
    for _ in range(N):
        if cold:
            bytes(BIG)
        t = time.perf_counter_ns()
        fn()
        total += time.perf_counter_ns() - t
    return total / N / 1000


def main() -> None:
    budget = ic.Budget(1e6)
    runtime = ic.AgentRuntime(budget=1e6, auto_instrument=False)
    plain = ic.AgentRuntime(budget=1e6, safety_mode="off", circuit_breaker=False, auto_instrument=False)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("no-op Python call", lambda: None),
        ("json.loads of 8 bytes", lambda: json.loads('{"a": 1}')),
        ("ic.cost_of", lambda: ic.cost_of("gpt-4o-mini", {"prompt_tokens": 20, "completion_tokens": 5})),
        ("Budget reserve+commit", lambda: budget.reserve(0.001).commit(0.0005)),
        (
            "pipeline begin+complete (redact, breaker)",
            lambda: runtime._core.begin("/v1/chat/completions", REQUEST)[0].complete(200, REPLY),
        ),  # type: ignore[union-attr]
        (
            "pipeline begin+complete (no scan, no breaker)",
            lambda: plain._core.begin("/v1/chat/completions", REQUEST)[0].complete(200, REPLY),
        ),  # type: ignore[union-attr]
    ]
    print(f"{'operation':48s} {'hot':>9s} {'cold':>9s}")
    for label, fn in cases:
        print(f"{label:48s} {timed(fn, False):7.2f}us {timed(fn, True):7.2f}us")


if __name__ == "__main__":
    main()
