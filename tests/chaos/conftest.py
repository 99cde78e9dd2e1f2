"""Chaos fixtures: a real PostgreSQL, Control Panel replicas on it, FakeProvider, a workload of
runtime threads, and the invariant checks every scenario ends with."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import psycopg
import pytest

import iron_cage as ic
from iron_cage.control_panel.refusals import UNCHARGED
from iron_cage.testing import FakeProvider

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "python"), str(ROOT)]

from python.control_panel.servers import ServerProcess  # noqa: E402

from pg_server import PostgresServer  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    from iron_cage.control_panel.db import make_engine, migrate

    with PostgresServer() as pg:
        engine = make_engine(pg.create_database("chaos_template"))
        migrate(engine)
        engine.dispose()
        yield pg


@pytest.fixture
def database_url(postgres: PostgresServer, tmp_path: Path) -> str:
    return postgres.create_database(f"chaos_{int(time.time() * 1000) % 10**9}", template="chaos_template")


def start_replicas(database_url: str, tmp_path: Path, n: int, *extra: str) -> list[ServerProcess]:
    return [ServerProcess(database_url, tmp_path, f"cp-{i}", *extra).start() for i in range(1, n + 1)]


class Sampler(threading.Thread):
    """Every ~100 ms: the sum of live leases against the allocation, per agent (invariant d)."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn.replace("postgresql+psycopg://", "postgresql://")
        self.samples = 0
        self.max_ratio = 0.0
        self.violations: list[str] = []
        self.errors = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.1):
            try:
                with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                    rows = conn.execute(
                        "SELECT b.agent_id, b.limit_micros, b.spent_micros,"
                        " COALESCE(SUM(l.granted_micros - l.spent_micros)"
                        " FILTER (WHERE l.status = 'active'), 0)"
                        " FROM budgets b LEFT JOIN leases l ON l.agent_id = b.agent_id"
                        " GROUP BY b.agent_id, b.limit_micros, b.spent_micros"
                    ).fetchall()
            except psycopg.Error:
                self.errors += 1  # PostgreSQL restarting: no sample this tick
                continue
            self.samples += 1
            for agent_id, limit, spent, live in rows:
                if limit > 0:
                    self.max_ratio = max(self.max_ratio, float(live + spent) / limit)
                if live + spent > limit:
                    self.violations.append(f"agent {agent_id}: live {live} + spent {spent} > {limit}")

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(5)


@dataclass
class Workload:
    """N runtime threads, each an AgentRuntime making calls through the real openai client."""

    urls: list[str]
    tokens: list[str]
    fake: FakeProvider
    tmp: Path
    calls: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    failovers: int = 0
    spent_local: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    runtimes: list[ic.AgentRuntime] = field(default_factory=list)  # the live ones, to look at
    refusal: str = ""  # the last refusal's message

    def run(self, seconds: float, during: Callable[[], None] | None = None, slice_usd: float = 0.05) -> None:
        stop = threading.Event()

        def one(i: int) -> None:
            with (
                contextlib.ExitStack() as stack,
                ic.AgentRuntime(
                    budget=slice_usd,
                    control_panel=self.urls,
                    ic_token=self.tokens[i],
                    outbox_path=self.tmp / f"outbox-{i}.db",
                    name=f"w{i}",
                ) as rt,
            ):
                with self.lock:
                    self.runtimes.append(rt)
                client = rt.instrument(
                    openai.OpenAI(base_url=self.fake.base_url, api_key="k", max_retries=0, timeout=10)
                )
                # Closed with the runtime: a client left to the garbage collector leaves its
                # keep-alive socket open until then (a ResourceWarning, an error under -W error).
                stack.callback(client.close)
                while not stop.is_set():
                    try:
                        client.chat.completions.create(
                            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=8
                        )
                        with self.lock:
                            self.calls += 1
                    except ic.BudgetExceededError as exc:
                        with self.lock:
                            self.refused += 1
                            self.refusal = str(exc)
                        time.sleep(0.05)
                    except Exception as exc:  # counted and shown, never hidden
                        with self.lock:
                            self.errors.append(repr(exc))
                        time.sleep(0.05)
                assert rt.lease is not None
                deadline = time.monotonic() + 30
                while not rt.lease.flush() and time.monotonic() < deadline:
                    time.sleep(0.2)
                with self.lock:
                    self.failovers += int(rt.lease.status()["failovers"])
                    self.spent_local += float(rt.spent_usd)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(self.tokens))]
        for t in threads:
            t.start()
        if during is not None:
            during()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join(90)


def check_invariants(
    name: str, dsn: str, fake: FakeProvider, workload: Workload, sampler: Sampler
) -> dict[str, Any]:
    """(a) recorded == billed, (b) no request_id twice, (c) spent <= allocation, (d) sampled leases."""
    with psycopg.connect(dsn.replace("postgresql+psycopg://", "postgresql://")) as conn:
        # Charged calls only: refused and failed ones are reported too (cost 0), listed, never billed.
        charged = "(status <> ALL(%(uncharged)s) OR cost_micros > 0)"
        records, recorded_micros, distinct = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(cost_micros), 0), COUNT(DISTINCT request_id) FROM usage_records "
            f"WHERE {charged}",
            {"uncharged": sorted(UNCHARGED)},
        ).fetchone() or (0, 0, 0)
        uncharged_rows, twice = conn.execute(
            f"SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT request_id) FROM usage_records WHERE NOT {charged}",
            {"uncharged": sorted(UNCHARGED)},
        ).fetchone() or (0, 0)
        recorded_micros = int(recorded_micros)
        spent_sum = conn.execute("SELECT COALESCE(SUM(spent_micros), 0) FROM budgets").fetchone()
        over = conn.execute("SELECT agent_id FROM budgets WHERE spent_micros > limit_micros").fetchall()
    figures = {
        "scenario": name,
        "calls": workload.calls,
        "billed_requests": fake.request_count,
        "recorded_requests": records,
        "recorded_usd": recorded_micros / 1e6,
        "runtime_spent_usd": round(workload.spent_local, 6),
        "refused": workload.refused,
        "refusal_records": uncharged_rows,
        "failovers": workload.failovers,
        "samples": sampler.samples,
        "max_leased_plus_spent_over_allocation": round(sampler.max_ratio, 4),
        "errors": len(workload.errors),
    }
    print(f"\nCHAOS {figures}")
    assert not workload.errors, workload.errors[:5]
    assert records == fake.request_count == workload.calls  # (a) every billed call recorded once
    assert spent_sum is not None and int(spent_sum[0]) == recorded_micros
    assert abs(recorded_micros / 1e6 - workload.spent_local) < 1e-6  # (a) in money
    assert distinct == records and twice == 0  # (b)
    assert not over  # (c)
    assert sampler.samples > 0 and not sampler.violations, sampler.violations[:5]  # (d)
    return figures


class RuntimeProcess:
    """tests/chaos/runtime_proc.py in a process of its own, its output lines collected."""

    def __init__(self, cfg: dict[str, Any], log: Path) -> None:
        self.cfg = cfg
        self.log = log
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> RuntimeProcess:
        with open(self.log, "a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("runtime_proc.py")), json.dumps(self.cfg)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, cond: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline or (self.proc is not None and self.proc.poll() is not None):
                time.sleep(0.2)  # the last lines
                if cond():
                    return
                raise AssertionError(
                    f"runtime process: no {what}; last lines {self.lines[-5:]}; "
                    f"stderr {self.log.read_text()[-2000:]}"
                )
            time.sleep(0.02)

    @property
    def calls(self) -> int:
        return sum(1 for line in self.lines if line.startswith("call "))

    @property
    def spent(self) -> float:
        last = [line for line in self.lines if line.startswith("call ")]
        return float(last[-1].split()[2]) if last else 0.0

    @property
    def refused(self) -> int:
        return sum(1 for line in self.lines if line == "refused")

    @property
    def errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith("error ")]

    def status(self) -> dict[str, Any]:
        found = [line for line in self.lines if line.startswith("status ")]
        return dict(json.loads(found[-1][len("status ") :])) if found else {}

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(10)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self._reader.join(10)


def outbox_rows(path: Path) -> int:
    """Reports waiting in an outbox file (read by another process, as the next run would)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0])


def client_connections(port: int) -> int:
    """Open TCP connections (ESTABLISHED or CLOSE_WAIT) from this host to ``port`` on loopback."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for row in f.readlines()[1:]:
                fields = row.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] in ("01", "08"):
                    n += 1
    return n
