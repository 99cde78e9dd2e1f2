"""Chaos scenarios: real replicas, real PostgreSQL, real runtimes; invariants at the end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from iron_cage.testing import FakeProvider
from pg_server import PostgresServer

from .conftest import Sampler, Workload, check_invariants, start_replicas
from .proxy import FaultProxy

RUNTIMES = 4


def _agents(server: object, n: int, budget: float) -> list[str]:
    return [server.new_agent(f"chaos-{i}", budget)[2] for i in range(n)]  # type: ignore[attr-defined]


def test_kill_9_a_replica_mid_run(database_url: str, tmp_path: Path) -> None:
    servers = start_replicas(database_url, tmp_path, 2)
    sampler = Sampler(database_url)
    try:
        tokens = _agents(servers[0], RUNTIMES, 1.0)
        with FakeProvider() as fake:
            work = Workload([s.url for s in servers], tokens, fake, tmp_path)
            sampler.start()

            def kill() -> None:
                time.sleep(2)
                assert servers[0].proc is not None
                servers[0].proc.kill()
                servers[0].proc.wait()

            work.run(6, during=lambda: threading.Thread(target=kill).start())
            sampler.stop()
            figures = check_invariants("kill -9 replica", database_url, fake, work, sampler)
            assert figures["failovers"] >= 1
    finally:
        sampler.stop()
        for s in servers:
            s.stop()


def test_restart_postgres_mid_run(postgres: PostgresServer, database_url: str, tmp_path: Path) -> None:
    servers = start_replicas(database_url, tmp_path, 2)
    sampler = Sampler(database_url)
    try:
        tokens = _agents(servers[0], RUNTIMES, 1.0)
        with FakeProvider() as fake:
            work = Workload([s.url for s in servers], tokens, fake, tmp_path)
            sampler.start()

            def restart() -> None:
                time.sleep(2)
                postgres._run(
                    str(postgres.bindir / "pg_ctl"), "-D", str(postgres.data), "-w", "-m", "fast", "restart"
                )

            work.run(8, during=lambda: threading.Thread(target=restart).start())
            sampler.stop()
            check_invariants("restart PostgreSQL", database_url, fake, work, sampler)
    finally:
        sampler.stop()
        for s in servers:
            s.stop()


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
