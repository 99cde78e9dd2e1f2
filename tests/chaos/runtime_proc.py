"""A governed runtime as a process of its own, for the chaos scenarios that kill one.

    python runtime_proc.py CONFIG_JSON

CONFIG_JSON: ``urls``, ``token``, ``outbox``, ``provider`` (a FakeProvider's base URL),
``slice_usd``, ``calls`` (how many to make; -1: until ``pause`` exists), ``pause`` (a path: once
it exists the process stops calling, says ``idle`` and waits to be killed) and ``exit`` (true:
flush, print the status and leave instead of idling).

It prints one line per event, flushed at once, so the parent knows what happened before a
``kill -9``: ``ready``, ``call N SPENT_USD`` after each call returned (its report is in the
outbox by then: the outbox write happens inside the call), ``refused``, ``error ...``,
``idle``, ``status {json}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import openai

import iron_cage as ic


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(cfg: dict[str, object]) -> None:
    pause = Path(str(cfg["pause"])) if cfg.get("pause") else None
    calls = int(cfg.get("calls", -1))  # type: ignore[call-overload]
    with ic.AgentRuntime(
        budget=float(cfg.get("slice_usd", 0.05)),  # type: ignore[arg-type]
        control_panel=cfg["urls"],  # type: ignore[arg-type]
        ic_token=str(cfg["token"]),
        outbox_path=str(cfg["outbox"]),
        name="killable",
    ) as rt:
        assert rt.lease is not None
        say(f"ready {rt.lease.lease_id} pending={rt.lease.pending_reports}")
        client = rt.instrument(
            openai.OpenAI(base_url=str(cfg["provider"]), api_key="k", max_retries=0, timeout=10)
        )
        n = 0
        while n != calls and not (pause is not None and pause.exists()):
            try:
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=8
                )
                n += 1
                say(f"call {n} {float(rt.spent_usd):.6f}")
            except ic.BudgetExceededError:
                say("refused")
                time.sleep(0.05)
            except Exception as exc:
                say(f"error {exc!r}")
                time.sleep(0.05)
        if not cfg.get("exit"):
            say(f"idle pending={rt.lease.pending_reports}")
            while True:  # holding the lease, reports unsent: the parent kills -9 now
                time.sleep(1)
        deadline = time.monotonic() + 30
        while not rt.lease.flush() and time.monotonic() < deadline:
            time.sleep(0.2)
        say("status " + json.dumps({**rt.lease.status(), "spent_usd": float(rt.spent_usd)}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
