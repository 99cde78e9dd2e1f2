"""Python-side costs of the cost engine, with OpenAI's tiktoken as the peer in the same run.

Run: make bench-python   (or: .venv/bin/python benches/python/bench_cost.py)
Prints per-call medians and a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))

from timing import ROUNDS, per_call_ns

import iron_cage as ic
from tiktoken_local import encoding


def text_1kb() -> str:
    base = (
        "The agent qualified lead #42 (Ada Lovelace, CTO at Acme Robotics) with a score of 8/10: "
        "they attended the webinar on 2026-11-21 and asked about pricing at $12.50 per seat. "
        "def score(lead):\n    return min(10, lead.visits * 2)  # heuristic\n"
        "Next steps: schedule a demo, send the whitepaper, follow up in 3 days. "
    )
    return (base * 8)[:1024]


def main() -> None:
    budget = ic.Budget(1_000_000_000.0, thresholds=[0.9])
    text = text_1kb()
    o200k = encoding("o200k_base")
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 1024},
    }
    assert ic.count_tokens("gpt-4o", text) == len(o200k.encode_ordinary(text))

    def reserve_commit() -> None:
        budget.reserve(0.001).commit(0.0007)

    def empty_call() -> None:
        pass

    def count_ours() -> None:
        ic.count_tokens("gpt-4o", text)

    def count_peer() -> None:
        o200k.encode_ordinary(text)

    def price() -> None:
        ic.cost_of("gpt-4o-2024-08-06", usage)

    ours = per_call_ns(count_ours, 2_000)
    peer = per_call_ns(count_peer, 2_000)
    rows = [
        ("Budget.reserve(0.001).commit(0.0007)", per_call_ns(reserve_commit, 20_000)),
        ("(loop + empty Python call, for scale)", per_call_ns(empty_call, 20_000)),
        ("ic.count_tokens('gpt-4o', 1 KB)", ours),
        ("tiktoken o200k encode_ordinary(1 KB) [peer]", peer),
        ("ic.cost_of('gpt-4o-2024-08-06', usage)", per_call_ns(price, 20_000)),
    ]
    print(f"python {platform.python_version()} on {platform.machine()}, {ROUNDS} rounds, median per call")
    print("| operation | per call |")
    print("|---|---|")
    for name, ns in rows:
        print(f"| {name} | {ns / 1000:.2f} µs |")
    ratio = peer / ours
    print(f"\ncount_tokens 1 KB: iron-cage {ours / 1000:.1f} µs, tiktoken {peer / 1000:.1f} µs: {ratio:.2f}x")


if __name__ == "__main__":
    main()
