"""Chaos scenarios: real replicas, real PostgreSQL, real runtimes; invariants at the end."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import psycopg
import pytest

import iron_cage as ic
from iron_cage.testing import FakeProvider
from pg_server import PostgresServer

from .conftest import (
    RuntimeProcess,
    Sampler,
    Workload,
    check_invariants,
    client_connections,
    outbox_rows,
    start_replicas,
)
from .proxy import FaultProxy

RUNTIMES = 4


def _agents(server: object, n: int, budget: float) -> list[str]:
    return [server.new_agent(f"chaos-{i}", budget)[2] for i in range(n)]  # type: ignore[attr-defined]


def _two_replicas_under(
    database_url: str, tmp_path: Path, name: str, seconds: float, fault: Callable[[list[Any]], None]
) -> dict[str, Any]:
    """RUNTIMES runtimes on two replicas for ``seconds``; ``fault`` strikes 2 s in."""
    servers = start_replicas(database_url, tmp_path, 2)
    sampler = Sampler(database_url)
    try:
        tokens = _agents(servers[0], RUNTIMES, 1.0)
        with FakeProvider() as fake:
            work = Workload([s.url for s in servers], tokens, fake, tmp_path)
            sampler.start()

            def later() -> None:
                time.sleep(2)
                fault(servers)

            work.run(seconds, during=lambda: threading.Thread(target=later).start())
            sampler.stop()
            return check_invariants(name, database_url, fake, work, sampler)
    finally:
        sampler.stop()
        for s in servers:
            s.stop()


def test_kill_9_a_replica_mid_run(database_url: str, tmp_path: Path) -> None:
    def kill(servers: list[Any]) -> None:
        servers[0].proc.kill()
        servers[0].proc.wait()

    figures = _two_replicas_under(database_url, tmp_path, "kill -9 replica", 6, kill)
    assert figures["failovers"] >= 1


def test_restart_postgres_mid_run(postgres: PostgresServer, database_url: str, tmp_path: Path) -> None:
    def restart(_servers: list[Any]) -> None:
        postgres._run(
            str(postgres.bindir / "pg_ctl"), "-D", str(postgres.data), "-w", "-m", "fast", "restart"
        )

    _two_replicas_under(database_url, tmp_path, "restart PostgreSQL", 8, restart)


def test_partition_longer_than_the_lease(database_url: str, tmp_path: Path) -> None:
    """Runtime <-> server blackholed beyond the lease TTL: spending freezes, then resumes."""
    servers = start_replicas(
        database_url, tmp_path, 1, "--lease-ttl", "4", "--sweep-interval", "0.5", "--lease-grace", "0"
    )
    sampler = Sampler(database_url)
    try:
        tokens = _agents(servers[0], 2, 1.0)
        with FaultProxy(servers[0].port) as proxy, FakeProvider() as fake:
            work = Workload([proxy.url], tokens, fake, tmp_path)
            sampler.start()

            def partition() -> None:
                time.sleep(1.5)
                proxy.blackhole()
                time.sleep(7)
                proxy.reset()
                proxy.pass_through()

            work.run(14, during=lambda: threading.Thread(target=partition).start())
            sampler.stop()
            figures = check_invariants("partition > lease", database_url, fake, work, sampler)
            assert figures["refused"] > 0  # frozen at the local deadline
    finally:
        sampler.stop()
        for s in servers:
            s.stop()


def _leases(dsn: str, agent_id: int) -> tuple[int, int, int, int]:
    """(active leases, budget leased_micros, limit_micros, spent_micros) of one agent."""
    with psycopg.connect(dsn.replace("postgresql+psycopg://", "postgresql://")) as conn:
        active = conn.execute(
            "SELECT COUNT(*) FROM leases WHERE agent_id = %s AND status = 'active'", (agent_id,)
        ).fetchone()
        budget = conn.execute(
            "SELECT leased_micros, limit_micros, spent_micros FROM budgets WHERE agent_id = %s", (agent_id,)
        ).fetchone()
    assert active is not None and budget is not None
    return int(active[0]), int(budget[0]), int(budget[1]), int(budget[2])


def test_kill_9_a_runtime(database_url: str, tmp_path: Path) -> None:
    """A runtime process killed with unsent reports: its lease goes back to the pool after
    TTL + grace, and the next start with the same outbox delivers the reports, once."""
    ttl, grace, sweep = 4, 1, 0.5
    servers = start_replicas(
        database_url,
        tmp_path,
        1,
        "--lease-ttl",
        str(ttl),
        "--sweep-interval",
        str(sweep),
        "--lease-grace",
        str(grace),
    )
    sampler = Sampler(database_url)
    first = second = None
    try:
        _admin, agent, token = servers[0].new_agent("killed", 1.0)
        with FaultProxy(servers[0].port) as proxy, FakeProvider() as fake:
            sampler.start()
            pause = tmp_path / "pause"
            cfg: dict[str, Any] = {
                "urls": [proxy.url],
                "token": token,
                "outbox": str(tmp_path / "killed" / "outbox.db"),
                "provider": fake.base_url,
                "slice_usd": 0.05,
                "calls": -1,
                "pause": str(pause),
            }
            first = RuntimeProcess(cfg, tmp_path / "runtime-1.log").start()
            first.wait_for(lambda: first.calls >= 100, 60, "100 calls")
            proxy.reset()  # the Control Panel unreachable from now on: reports stay in the outbox
            n0 = first.calls
            first.wait_for(lambda: first.calls >= n0 + 50, 30, "50 calls while cut off")
            pause.touch()
            first.wait_for(lambda: any(x.startswith("idle") for x in first.lines), 30, "idle")
            first.kill9()
            killed = time.monotonic()
            unsent = outbox_rows(Path(cfg["outbox"]))
            assert unsent >= 50, unsent
            active, leased, limit, spent = _leases(database_url, agent["id"])
            assert active == 1 and leased > 0  # the dead runtime's lease still holds its grant
            # Back into the pool after TTL + grace (+ a sweep), not before the TTL.
            while _leases(database_url, agent["id"])[:2] != (0, 0):
                assert time.monotonic() - killed < ttl + grace + sweep + 5, "lease never expired"
                time.sleep(0.1)
            released_s = time.monotonic() - killed
            active, leased, limit, spent = _leases(database_url, agent["id"])
            assert limit - spent - leased == limit - spent > 0  # all of it available again
            recorded_before = fake.request_count - unsent

            proxy.pass_through()
            second = RuntimeProcess(
                {**cfg, "calls": 0, "exit": True, "pause": None}, tmp_path / "runtime-2.log"
            )
            second.start()
            second.wait_for(lambda: bool(second.status()), 60, "status")
            assert second.lines[0].endswith(f"pending={unsent}"), second.lines[0]
            status = second.status()
            assert status["pending_reports"] == 0 and status["reports_sent"] == unsent, status
            sampler.stop()
            work = Workload([proxy.url], [token], fake, tmp_path)
            work.calls, work.refused, work.errors = first.calls, first.refused, first.errors
            work.spent_local = first.spent + float(status["spent_usd"])
            figures = check_invariants("kill -9 runtime", database_url, fake, work, sampler)
            print(
                f"CHAOS unsent at kill {unsent}, recorded before replay {recorded_before}, "
                f"lease back in pool after {released_s:.1f}s (ttl {ttl}s + grace {grace}s)"
            )
            assert figures["recorded_requests"] == first.calls
    finally:
        sampler.stop()
        for p in (first, second):
            if p is not None:
                p.stop()
        for s in servers:
            s.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: a disk that really fills up (ENOSPC)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(disk: Path) -> Path:
    """Writes a file until the disk has no room left (ENOSPC)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 512)
    finally:
        os.close(fd)
    return filler


def test_outbox_disk_full(database_url: str, tmp_path: Path, tiny_disk: Path) -> None:
    """No outbox, no calls: at start a clear error; mid-run (disk full) a report that cannot be
    written is kept in memory and still delivered, and calls are refused until the outbox takes
    writes again; freed, calls resume."""
    servers = start_replicas(database_url, tmp_path, 1, "--lease-ttl", "4", "--sweep-interval", "0.5")
    sampler = Sampler(database_url)
    try:
        tokens = _agents(servers[0], 2, 1.0)
        with FakeProvider() as fake:
            # (i) The outbox cannot be created (a file where its directory should be).
            (tmp_path / "not-a-dir").write_text("")
            with pytest.raises(Exception, match="outbox") as refused_at_start:
                ic.AgentRuntime(
                    budget=0.05,
                    control_panel=servers[0].url,
                    ic_token=tokens[0],
                    outbox_path=tmp_path / "not-a-dir" / "outbox.db",
                )
            print(f"\nCHAOS at start: {type(refused_at_start.value).__name__}: {refused_at_start.value}")
            # (ii) The disk fills up mid-run.
            work = Workload([servers[0].url], tokens, fake, tiny_disk)
            sampler.start()
            seen: dict[str, Any] = {}

            def outbox_errors() -> list[str]:
                found = (str(rt.lease.status()["last_error"]) for rt in list(work.runtimes) if rt.lease)
                return [e for e in found if e.startswith("outbox ")]

            def fill_then_free() -> None:
                time.sleep(2)
                filler = _fill(tiny_disk)
                calls0, refused0, t0 = work.calls, work.refused, time.monotonic()
                # A runtime whose files still hold room (a reused WAL) may write on for a while:
                # wait for the first that cannot, then keep the disk full 2 s more.
                while not outbox_errors() and time.monotonic() - t0 < 10:
                    time.sleep(0.05)
                seen["first_error_after_s"] = round(time.monotonic() - t0, 2)
                time.sleep(2)
                seen["errors"] = outbox_errors()
                seen["calls_while_full"] = work.calls - calls0
                seen["refused_while_full"] = work.refused - refused0
                seen["refusal"] = work.refusal
                filler.unlink()
                seen["calls_at_free"] = work.calls

            filling = threading.Thread(target=fill_then_free)
            work.run(18, during=filling.start)
            filling.join()
            sampler.stop()
            print(f"CHAOS disk full: {seen}")
            figures = check_invariants("outbox disk full", database_url, fake, work, sampler)
            assert seen["errors"], seen
            for e in seen["errors"]:  # each runtime says which file and why
                assert e.startswith(f"outbox {tiny_disk}") and "disk is full" in e, seen
            # SQLite keeps writing into space its files already hold (a checkpointed WAL is reused),
            # so calls may go on while the disk is full, each report written; what cannot be written
            # is the report of the call in flight when a write failed (one thread per runtime):
            # kept in memory, and the runtime refuses the calls after it.
            for e in seen["errors"]:
                kept = re.search(r"; (\d+) kept in memory", e)
                assert kept is None or int(kept.group(1)) <= 1, e
            assert seen["refused_while_full"] > 0, seen
            assert work.calls > seen["calls_at_free"], seen  # resumed once the disk had room
            assert figures["errors"] == 0
    finally:
        sampler.stop()
        for s in servers:
            s.stop()


def test_slow_upstream_and_slow_server(database_url: str, tmp_path: Path) -> None:
    """Provider answers slowly; the Control Panel first slowly, then beyond the lease client's
    10 s timeout (requests time out, are retried, some reach the server twice): no pile-up of
    connections, and the invariants hold."""
    servers = start_replicas(database_url, tmp_path, 1)
    sampler = Sampler(database_url)
    try:
        tokens = _agents(servers[0], RUNTIMES, 1.0)
        with FaultProxy(servers[0].port) as proxy, FakeProvider() as fake:
            fake.set_latency(0.2)
            work = Workload([proxy.url], tokens, fake, tmp_path)
            peak = {"server": 0, "provider": 0}
            phases: dict[str, int] = {}
            halt = threading.Event()
            provider_port = int(fake.base_url.rsplit(":", 1)[1].split("/")[0])

            def watch() -> None:
                while not halt.wait(0.05):
                    peak["server"] = max(peak["server"], client_connections(proxy.port))
                    peak["provider"] = max(peak["provider"], client_connections(provider_port))

            def slow() -> None:
                proxy.delay(0.3)
                time.sleep(4)
                c0 = proxy.connections
                proxy.delay(11)  # past the 10 s timeout
                time.sleep(14)
                phases["connections_while_timing_out"] = proxy.connections - c0
                proxy.pass_through()

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            sampler.start()
            slowing = threading.Thread(target=slow)
            work.run(20, during=slowing.start)
            slowing.join()
            halt.set()
            sampler.stop()
            print(f"\nCHAOS slow: peak connections {peak}, {phases}, proxy connections {proxy.connections}")
            check_invariants("slow upstream + slow server", database_url, fake, work, sampler)
            # Each runtime: one lease worker request at a time (plus the final flush), one call per thread.
            assert peak["server"] <= 2 * RUNTIMES, peak
            assert peak["provider"] <= RUNTIMES, peak
            # 14 s of timeouts: a retry per timeout and flush interval, not a storm.
            assert phases["connections_while_timing_out"] <= RUNTIMES * 6, phases
    finally:
        sampler.stop()
        for s in servers:
            s.stop()


def test_upstream_timeout_is_still_recorded(database_url: str, tmp_path: Path) -> None:
    """A call the client gave up on after the provider received it is charged its worst case
    and recorded, so every request the provider may bill is in the spend."""
    servers = start_replicas(database_url, tmp_path, 1)
    try:
        (token,) = _agents(servers[0], 1, 1.0)
        with FakeProvider() as fake:
            with (
                contextlib.ExitStack() as stack,
                ic.AgentRuntime(
                    budget=0.05, control_panel=servers[0].url, ic_token=token, outbox_path=tmp_path / "o.db"
                ) as rt,
            ):
                client = rt.instrument(
                    openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=0.5)
                )
                stack.callback(client.close)
                fake.set_latency(1.5)
                timeouts = 0
                for _ in range(3):
                    with contextlib.suppress(openai.APITimeoutError):
                        client.chat.completions.create(
                            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=8
                        )
                        continue
                    timeouts += 1
                assert rt.lease is not None and rt.lease.flush()
                spent = rt.spent_usd
            with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
                row = conn.execute("SELECT COUNT(*) FROM usage_records").fetchone()
                charged = conn.execute(
                    "SELECT COALESCE(SUM(cost_micros), 0) FROM usage_records WHERE status = 'failed_timeout'"
                ).fetchone()
                budget = conn.execute("SELECT spent_micros FROM budgets").fetchone()
            print(f"\nCHAOS upstream timeouts {timeouts}, billed {fake.request_count}, recorded {row}")
            assert timeouts == 3 and row is not None and row[0] == fake.request_count == 3  # (a)
            assert charged is not None and budget is not None and int(charged[0]) == int(budget[0]) > 0
            assert abs(int(budget[0]) / 1e6 - spent) < 1e-6
    finally:
        for s in servers:
            s.stop()
