"""What the request policy adds to a library-mode call, from Python: the Rust
`begin` + `complete` of one governed call on a 2 KB chat request (a system and a
user message of 1 KB each) with the policy off and on, for a request without PII
and for one with four values to pseudonymize (rewritten and counted again; the
reply carries a placeholder to restore).

Peer: Presidio's predefined recognizers (presidio-analyzer, when installed: the
same set as bench_pii.py), detecting in the same two texts per call, as a
pre-call masking guardrail does before it can replace anything.

Run: `.venv/bin/python benches/python/bench_egress.py`
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from bench_pii import presidio_scanner
from corpus import pii_corpus

import iron_cage as ic

PATH = "/v1/chat/completions"
KB = pii_corpus(1100, 0)[:1024]  # English without PII: the sentences of the PII corpus
VALUES = "Mail jane.roe@example.com and bob@example.org, call (415) 555-2671, cc ops@example.net. "


def request(user: str) -> bytes:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 64,
        "messages": [{"role": "system", "content": KB}, {"role": "user", "content": user}],
    }
    return json.dumps(body).encode()


def reply(text: str) -> bytes:
    return json.dumps(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 520, "completion_tokens": 12},
        }
    ).encode()


def per_call_us(core: Any, body: bytes, answer: bytes, n: int = 20_000) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        call, _, _ = core.begin(PATH, body)
        call.complete(200, answer, None)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples[n // 10 :]) / 1000


def main() -> None:
    clean = request(KB)
    pii = request((VALUES + KB)[:1024])
    assert len(clean) >= 2048 and len(pii) >= 2048
    plain, restored = reply("Done, a short answer."), reply("Mailed <EMAIL_1> as asked.")
    results: dict[str, dict[str, float]] = {}
    for policy in ("off", "default"):
        with ic.AgentRuntime(budget=1e6, egress=policy) as rt:
            results[policy] = {
                "no_pii": per_call_us(rt._core, clean, plain),
                "four_values": per_call_us(rt._core, pii, restored),
            }
    print("request policy, 2 KB chat request, begin + complete from Python (median us per call)")
    for kind in ("no_pii", "four_values"):
        off, on = results["off"][kind], results["default"][kind]
        print(f"  {kind:12} policy off {off:6.2f} us  on {on:6.2f} us  added {on - off:+6.2f} us")
    presidio = presidio_scanner()
    if presidio is not None:
        for kind, user in (("no_pii", KB), ("four_values", (VALUES + KB)[:1024])):
            samples = []
            for _ in range(200):
                t0 = time.perf_counter_ns()
                presidio(KB)
                presidio(user)
                samples.append(time.perf_counter_ns() - t0)
            print(f"  Presidio, detection only, {kind:12} {statistics.median(samples[20:]) / 1000:9.1f} us")


if __name__ == "__main__":
    main()
