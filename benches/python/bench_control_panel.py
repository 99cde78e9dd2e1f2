"""Control Panel: handshake latency and usage-report ingestion, on SQLite and on PostgreSQL.

Each backend gets a real server process (`iron-cage control-panel serve`, one uvicorn
worker) on 127.0.0.1; PostgreSQL is a throwaway local server (Debian's package, as in
the tests). Clients are httpx with keep-alive, in this process.

Usage: bench_control_panel.py [--quick]     (make bench-control-panel)
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from iron_cage import _core

# The throwaway PostgreSQL server of the Control Panel tests (test code, not in the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))
from pg_server import PostgresServer, free_port, wait_port

ADMIN = {"email": "bench@example.com", "password": "bench-password-123"}
QUICK = "--quick" in sys.argv
_ids = itertools.count()


def start_server(database_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        IRON_SECRETS_MASTER_KEY=_core.generate_master_key(),
        IRON_CAGE_ADMIN_EMAIL=ADMIN["email"],
        IRON_CAGE_ADMIN_PASSWORD=ADMIN["password"],
    )
    cmd = [
        sys.executable,
        "-m",
        "iron_cage",
        "control-panel",
        "serve",
        "--port",
        str(port),
        "--database-url",
        database_url,
        "--sweep-interval",
        "0",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_port(port, 60)
    return proc, f"http://127.0.0.1:{port}/api/v1"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]


def bench(label: str, database_url: str, tmp: Path) -> None:
    proc, base = start_server(database_url, tmp / f"{label}.log")
    try:
        with httpx.Client(timeout=60) as c:
            admin = {
                "Authorization": "Bearer " + c.post(f"{base}/auth/login", json=ADMIN).json()["access_token"]
            }
            me = c.get(f"{base}/users/me", headers=admin).json()
            agent = c.post(
                f"{base}/agents",
                headers=admin,
                json={"name": "bench", "owner_id": me["id"], "budget_usd": 1_000_000},
            ).json()
            token = c.post(f"{base}/agents/{agent['id']}/tokens", headers=admin, json={}).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}

            def handshake(client: httpx.Client) -> float:
                t = time.perf_counter()
                r = client.post(f"{base}/budget/handshake", json={"requested_usd": "0.01"}, headers=auth)
                dt = time.perf_counter() - t
                assert r.status_code == 201, r.text
                return dt

            for _ in range(20):
                handshake(c)
            n = 100 if QUICK else 500
            seq = [handshake(c) for _ in range(n)]

            def worker(k: int) -> list[float]:
                with httpx.Client(timeout=60) as own:
                    return [handshake(own) for _ in range(k)]

            t0 = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                conc = [x for xs in pool.map(worker, [n // 8] * 8) for x in xs]
            conc_rate = len(conc) / (time.perf_counter() - t0)

            lease = c.post(f"{base}/budget/handshake", json={"requested_usd": 100_000}, headers=auth).json()

            def batch(size: int) -> dict[str, object]:
                return {
                    "lease_id": lease["lease_id"],
                    "reports": [
                        {
                            "request_id": f"b{next(_ids)}",
                            "model": "gpt-4o",
                            "provider": "openai",
                            "input_tokens": 1200,
                            "output_tokens": 300,
                            "cost_usd": "0.006",
                            "latency_ms": 850.0,
                        }
                        for _ in range(size)
                    ],
                }

            def send(bodies: list[dict[str, object]]) -> int:
                with httpx.Client(timeout=60) as own:
                    for body in bodies:
                        r = own.post(f"{base}/budget/report", json=body, headers=auth)
                        assert r.status_code == 200, r.text
                return sum(len(b["reports"]) for b in bodies)  # type: ignore[arg-type,misc]

            results = {}
            for size, batches in [(1, 200 if QUICK else 1000), (100, 20 if QUICK else 200)]:
                work = [batch(size) for _ in range(batches)]
                chunks = [work[i::4] for i in range(4)]
                t0 = time.perf_counter()
                with ThreadPoolExecutor(4) as pool:
                    total = sum(pool.map(send, chunks))
                results[size] = total / (time.perf_counter() - t0)
            spent = c.get(f"{base}/agents/{agent['id']}/budget", headers=admin).json()["spent_usd"]
            expected = 0.006 * sum((200 if QUICK else 1000, (20 if QUICK else 200) * 100))
            assert abs(spent - expected) < 1e-6, (spent, expected)

        ms = 1000
        print(
            f"{label:10s} handshake one at a time: p50 {statistics.median(seq) * ms:6.2f} ms  "
            f"p99 {pct(seq, 0.99) * ms:6.2f} ms   8 clients: p50 {statistics.median(conc) * ms:6.2f} ms  "
            f"p99 {pct(conc, 0.99) * ms:6.2f} ms  {conc_rate:6.0f} handshakes/s"
        )
        print(
            f"{label:10s} report ingestion, 4 clients: 1 per request {results[1]:7.0f} events/s   "
            f"100 per request {results[100]:7.0f} events/s"
        )
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench("sqlite", f"sqlite:///{tmp / 'cp.db'}", tmp)
        with PostgresServer() as pg:
            bench("postgresql", pg.create_database("bench"), tmp)


if __name__ == "__main__":
    main()
