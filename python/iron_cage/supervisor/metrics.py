"""What ``ic.progress()`` and ``ic.outcome()`` add up to: progress, success rate, throughput,
per-unit latency percentiles and cost per unit (kept by the supervisor, across restarts)."""

from __future__ import annotations

import time
from collections import deque
from typing import Any


def _pick(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * (len(values) - 1) + 0.5))]


class UnitMetrics:
    def __init__(self, now: float | None = None) -> None:
        self.started = time.time() if now is None else now
        self.first_unit_at: float | None = None
        self.done = 0
        self.units_total = 0  # units finished across restarts
        self.total: int | None = None
        self.unit = "items"
        self.successes = 0
        self.failures = 0
        self._mark: float | None = None
        self._latencies: deque[float] = deque(maxlen=10_000)
        self.changed = False

    def progress(self, done: int, total: int | None, unit: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.unit = unit or self.unit
        self.total = total
        if done > self.done:
            step = done - self.done
            if self._mark is not None:
                per = (now - self._mark) / step
                self._latencies.extend([per] * min(step, 1000))
            if self.first_unit_at is None:
                self.first_unit_at = self._mark if self._mark is not None else self.started
            self.units_total += step
        self.done = done
        self._mark = now
        self.changed = True

    def start_mark(self, now: float | None = None) -> None:
        """A (re)started process: the next unit's time counts from here."""
        self._mark = time.time() if now is None else now

    def outcome(self, success: bool) -> None:
        if success:
            self.successes += 1
        else:
            self.failures += 1
        self.changed = True

    def snapshot(
        self, spent_usd: float, budget_usd: float | None, now: float | None = None
    ) -> dict[str, Any]:
        now = time.time() if now is None else now
        lat = sorted(self._latencies)
        outcomes = self.successes + self.failures
        since = self.first_unit_at if self.first_unit_at is not None else self.started
        hours = max(now - since, 1e-9) / 3600
        throughput = self.units_total / hours if self.units_total else 0.0
        total = f" / {self.total}" if self.total is not None else ""
        return {
            "unit": self.unit,
            "done": self.done,
            "total": self.total,
            "progress": f"{self.done}{total} {self.unit}",
            "successes": self.successes,
            "failures": self.failures,
            "success_rate": round(self.successes / outcomes, 4) if outcomes else None,
            "throughput_per_hour": round(throughput, 2),
            "throughput": f"{throughput:.0f} {self.unit}/hour",
            "latency_s": (
                {
                    "p50": round(_pick(lat, 0.5), 4),
                    "p95": round(_pick(lat, 0.95), 4),
                    "p99": round(_pick(lat, 0.99), 4),
                }
                if lat
                else {}
            ),
            "cost_per_unit_usd": round(spent_usd / self.units_total, 6) if self.units_total else None,
            "spent_usd": round(spent_usd, 6),
            "budget_usd": budget_usd,
            "elapsed_s": round(now - self.started, 3),
        }
