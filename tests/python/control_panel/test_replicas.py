"""Concurrency across real server processes: no over-grant, no double count."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .servers import ServerProcess


def _setup_agent(server: ServerProcess, budget: float) -> str:
    return server.new_agent("racer", budget)[2]


def _replicas(database_url: str, tmp_path: Path) -> list[ServerProcess]:
    if database_url.startswith("sqlite"):
        return [ServerProcess(database_url, tmp_path, "cp-1", "--sweep-interval", "0")]
    return [ServerProcess(database_url, tmp_path, f"cp-{i}", "--sweep-interval", "0") for i in (1, 2)]


def test_fifty_concurrent_handshakes_never_grant_more_than_the_allocation(
    database_url: str, tmp_path: Path
) -> None:
    """50 x $1 against $10: exactly $10 granted in total, on SQLite and on two PostgreSQL replicas."""
    servers = _replicas(database_url, tmp_path)
    for s in servers:
        s.start()
    try:
        token = _setup_agent(servers[0], 10)

        def handshake(i: int) -> httpx.Response:
            url = servers[i % len(servers)].url
            return httpx.post(
                f"{url}/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 1}, timeout=60
            )

        with ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(handshake, range(50)))
        statuses = sorted({r.status_code for r in responses})
        assert set(statuses) <= {201, 402}, [r.text for r in responses if r.status_code not in (201, 402)]
        granted = sum(r.json()["granted_usd"] for r in responses if r.status_code == 201)
        assert granted == pytest.approx(10.0, abs=1e-9)
        assert sum(r.status_code == 201 for r in responses) == 10
        admin = servers[-1].admin_headers()
        agents = httpx.get(f"{servers[-1].url}/api/v1/agents", headers=admin).json()
        assert agents[0]["budget"]["leased_usd"] == 10.0 and agents[0]["budget"]["available_usd"] == 0.0
    finally:
        for s in servers:
            s.stop()


def test_the_same_report_sent_to_every_replica_counts_once(database_url: str, tmp_path: Path) -> None:
    servers = _replicas(database_url, tmp_path)
    for s in servers:
        s.start()
    try:
        token = _setup_agent(servers[0], 10)
        lease = httpx.post(
            f"{servers[0].url}/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 5}
        ).json()
        reports = [{"request_id": f"req-{i}", "model": "gpt-4o", "cost_usd": "0.01"} for i in range(40)]
        body = {"lease_id": lease["lease_id"], "reports": reports}

        def send(i: int) -> httpx.Response:
            return httpx.post(
                f"{servers[i % len(servers)].url}/api/v1/budget/report",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(send, range(8)))
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
        assert sum(r.json()["accepted"] for r in responses) == 40
        admin = servers[0].admin_headers()
        budget = httpx.get(f"{servers[0].url}/api/v1/agents", headers=admin).json()[0]["budget"]
        assert budget["spent_usd"] == pytest.approx(0.40) and budget["leased_usd"] == pytest.approx(4.60)
    finally:
        for s in servers:
            s.stop()
