"""Library-mode overhead per call: the same openai client call against FakeProvider,
uninstrumented and governed by an AgentRuntime (PII scan in redact mode, breaker on,
a $1,000 budget), alternating call by call (and which goes first) so drift and
cache warmth hit both alike.

Run: `.venv/bin/python benches/python/bench_library.py` (also `make bench-python`).
"""

from __future__ import annotations

import statistics
import time

import openai

import iron_cage as ic
from iron_cage.testing import FakeProvider

CALLS = 5000
MSG = [{"role": "user", "content": "Summarise the quarterly report in one sentence."}]


def one(client: openai.OpenAI) -> float:
    t = time.perf_counter_ns()
    client.chat.completions.create(model="gpt-4o-mini", max_tokens=64, messages=MSG)  # type: ignore[arg-type]
    return (time.perf_counter_ns() - t) / 1000


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p * (len(s) - 1)))]


def main() -> None:
    with FakeProvider() as fp:
        plain = openai.OpenAI(base_url=fp.base_url, api_key="k", max_retries=0)
        rt = ic.AgentRuntime(budget=1000.0, auto_instrument=False)
        governed = rt.instrument(openai.OpenAI(base_url=fp.base_url, api_key="k", max_retries=0))
        for _ in range(300):
            one(plain)
            one(governed)
        base: list[float] = []
        gov: list[float] = []
        # Alternate call by call so that the machine's drift hits both alike, and
        # swap the order every pair (the second call of a pair runs ~5 us faster on
        # warmer caches); the overhead is the median of the paired differences.
        for i in range(CALLS):
            if i % 2:
                gov.append(one(governed))
                base.append(one(plain))
            else:
                base.append(one(plain))
                gov.append(one(governed))
        plain.close()
        governed.close()
    diffs = [g - b for g, b in zip(gov, base, strict=True)]
    print(f"openai {openai.__version__} client, {CALLS} alternating pairs, FakeProvider on loopback")
    for label, values in (("uninstrumented", base), ("AgentRuntime.instrument", gov)):
        p50, p90, p99 = (pct(values, p) for p in (0.5, 0.9, 0.99))
        print(f"  {label:24s} p50 {p50:8.1f} us  p90 {p90:8.1f} us  p99 {p99:8.1f} us")
    print(
        f"  overhead per call: median of paired differences {statistics.median(diffs):.1f} us; "
        f"p50 difference {pct(gov, 0.5) - pct(base, 0.5):.1f} us"
    )
    print(f"  governed calls charged: {rt.metrics()['calls']}, spent ${rt.spent_usd:.6f}")


if __name__ == "__main__":
    main()
