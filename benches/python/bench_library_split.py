"""Where library mode's per-call overhead goes: the Rust `begin` + `complete` of one
governed call timed hot (back to back), cold (a 16 MiB copy between calls evicts the
CPU caches, as the SDK's Python between our calls partly does), and in the real loop
(`_admit` and `_settle` of the transport, wrapped with timers, an `openai` client
against FakeProvider alternating with a plain one as in bench_library.py).

Run: `.venv/bin/python benches/python/bench_library_split.py`
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import openai

import iron_cage as ic
from iron_cage.library import _transport
from iron_cage.testing import FakeProvider

MSG: Any = [{"role": "user", "content": "Summarise the quarterly report in one sentence."}]
PATH = "/v1/chat/completions"


def create(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", max_tokens=64, messages=MSG)


def us(values: list[int]) -> float:
    return statistics.median(values) / 1000


def core_calls(core: Any, request: bytes, reply: bytes, evict: bytearray | None, n: int) -> None:
    begin: list[int] = []
    complete: list[int] = []
    for _ in range(n):
        if evict is not None:
            bytes(evict)
        t0 = time.perf_counter_ns()
        call, _, _ = core.begin(PATH, request)
        t1 = time.perf_counter_ns()
        if evict is not None:
            bytes(evict)
        t2 = time.perf_counter_ns()
        call.complete(200, reply, None)
        begin.append(t1 - t0)
        complete.append(time.perf_counter_ns() - t2)
    skip = n // 10
    label = "cold" if evict is not None else "hot "
    print(f"  {label}: begin {us(begin[skip:]):.2f} us, complete {us(complete[skip:]):.2f} us")


def main() -> None:
    admit: list[int] = []
    settle: list[int] = []
    real_admit, real_settle = _transport._admit, _transport._settle

    def timed_admit(*args: Any) -> Any:
        t = time.perf_counter_ns()
        out = real_admit(*args)
        admit.append(time.perf_counter_ns() - t)
        return out

    def timed_settle(*args: Any) -> Any:
        t = time.perf_counter_ns()
        out = real_settle(*args)
        settle.append(time.perf_counter_ns() - t)
        return out

    with FakeProvider() as fp:
        rt = ic.AgentRuntime(budget=1000.0, auto_instrument=False)
        governed = rt.instrument(openai.OpenAI(base_url=fp.base_url, api_key="k", max_retries=0))
        plain = openai.OpenAI(base_url=fp.base_url, api_key="k", max_retries=0)
        raw = governed.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", max_tokens=64, messages=MSG
        )
        reply = raw.http_response.content
        request = json.dumps({"messages": MSG, "model": "gpt-4o-mini", "max_tokens": 64}).encode()
        print(f"request {len(request)} bytes, reply {len(reply)} bytes")
        print("begin + complete from Python, back to back:")
        core_calls(rt._core, request, reply, None, 20_000)
        core_calls(rt._core, request, reply, bytearray(16 << 20), 2_000)

        _transport._admit, _transport._settle = timed_admit, timed_settle
        try:
            for _ in range(3000):
                create(plain)
                create(governed)
        finally:
            _transport._admit, _transport._settle = real_admit, real_settle
        print("in the real loop (3,000 calls, first 500 dropped):")
        print(f"  _admit {us(admit[500:]):.1f} us, _settle {us(settle[500:]):.1f} us")


if __name__ == "__main__":
    main()
