"""Control Panel: handshake latency and usage-report ingestion, on SQLite and on PostgreSQL.

Each backend gets a real server process (`iron-cage control-panel serve`, one uvicorn
worker) on 127.0.0.1; PostgreSQL is a throwaway local server (Debian's package, as in
the tests). Clients are httpx with keep-alive, in this process; report bodies are built
before the clock starts. Handshakes: one at a time, then 8 clients at once, as 8 agents
and as one agent (all on one budget row). Ingestion: 4 runtimes, each its own agent and
lease, sending batches of 1, 100 and 500 back to back; the agents' recorded spend must
equal the sum sent.

Usage: bench_control_panel.py [--quick] [--workers N]     (make bench-control-panel)

--workers N serves PostgreSQL with N uvicorn worker processes (`serve --workers`; SQLite
always runs one).
"""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

# The throwaway PostgreSQL server of the Control Panel tests (test code, not in the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))
import cp_server
from cp_server import ADMIN

from pg_server import PostgresServer

QUICK = "--quick" in sys.argv
WORKERS = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else 1
_ids = itertools.count()


def start_server(database_url: str, log: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    proc, port = cp_server.start_server(database_url, log, workers=workers)
    return proc, f"http://127.0.0.1:{port}/api/v1"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]


def bench(label: str, database_url: str, tmp: Path, workers: int = 1) -> None:
    proc, base = start_server(database_url, tmp / f"{label}.log", workers)
    try:
        with httpx.Client(timeout=60) as c:
            admin = {
                "Authorization": "Bearer " + c.post(f"{base}/auth/login", json=ADMIN).json()["access_token"]
            }
            me = c.get(f"{base}/users/me", headers=admin).json()
            agents = []
            for k in range(8):
                agent = c.post(
                    f"{base}/agents",
                    headers=admin,
                    json={"name": f"bench-{k}", "owner_id": me["id"], "budget_usd": 1_000_000},
                ).json()
                token = c.post(f"{base}/agents/{agent['id']}/tokens", headers=admin, json={}).json()["token"]
                agents.append((agent["id"], {"Authorization": f"Bearer {token}"}))
            auth = agents[0][1]

            def handshake(client: httpx.Client, who: dict[str, str]) -> float:
                t = time.perf_counter()
                r = client.post(f"{base}/budget/handshake", json={"requested_usd": "0.01"}, headers=who)
                dt = time.perf_counter() - t
                assert r.status_code == 201, r.text
                return dt

            for _ in range(20):
                handshake(c, auth)
            n = 100 if QUICK else 500
            seq = [handshake(c, auth) for _ in range(n)]

            def concurrent(same_agent: bool) -> tuple[list[float], float]:
                """8 clients at once: 8 runtimes of 8 agents, or 8 of one agent (one budget row)."""

                def worker(k: int) -> list[float]:
                    who = auth if same_agent else agents[k][1]
                    with httpx.Client(timeout=60) as own:
                        return [handshake(own, who) for _ in range(n // 8)]

                t0 = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    lat = [x for xs in pool.map(worker, range(8)) for x in xs]
                return lat, len(lat) / (time.perf_counter() - t0)

            conc, conc_rate = concurrent(same_agent=False)
            same, same_rate = concurrent(same_agent=True)

            # Report ingestion: 4 runtimes (4 agents, a lease each) sending batches back to back.
            leases = [
                (who, c.post(f"{base}/budget/handshake", json={"requested_usd": 100_000}, headers=who).json())
                for _, who in agents[:4]
            ]

            def batch(lease: dict[str, object], size: int) -> bytes:
                return json.dumps(
                    {
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
                ).encode()

            def send(job: tuple[dict[str, str], list[bytes]]) -> list[float]:
                who, bodies = job
                headers = {**who, "content-type": "application/json"}
                lat = []
                with httpx.Client(timeout=60) as own:
                    for body in bodies:
                        t = time.perf_counter()
                        r = own.post(f"{base}/budget/report", content=body, headers=headers)
                        lat.append(time.perf_counter() - t)
                        assert r.status_code == 200, r.text
                return lat

            results: dict[int, tuple[float, float]] = {}
            sent = 0
            for size, batches in [
                (1, 50 if QUICK else 250),
                (100, 10 if QUICK else 50),
                (500, 4 if QUICK else 20),
            ]:
                jobs = [(who, [batch(lease, size) for _ in range(batches)]) for who, lease in leases]
                t0 = time.perf_counter()
                with ThreadPoolExecutor(4) as pool:
                    lat = [x for xs in pool.map(send, jobs) for x in xs]
                results[size] = (size * len(lat) / (time.perf_counter() - t0), statistics.median(lat))
                sent += size * len(lat)
            spent = sum(
                c.get(f"{base}/agents/{a}/budget", headers=admin).json()["spent_usd"] for a, _ in agents[:4]
            )
            assert abs(spent - 0.006 * sent) < 1e-6, (spent, 0.006 * sent)

        ms = 1000
        print(
            f"{label:10s} handshake one at a time: p50 {statistics.median(seq) * ms:6.2f} ms  "
            f"p99 {pct(seq, 0.99) * ms:6.2f} ms"
        )
        for name, lat, rate in [("8 agents", conc, conc_rate), ("one agent", same, same_rate)]:
            print(
                f"{label:10s} handshake, 8 clients, {name:9s}: p50 {statistics.median(lat) * ms:6.2f} ms  "
                f"p99 {pct(lat, 0.99) * ms:6.2f} ms  {rate:6.0f} handshakes/s"
            )
        for size, (rate, p50) in results.items():
            print(
                f"{label:10s} report ingestion, 4 clients, {size:3d} per request: {rate:7.0f} calls/s  "
                f"(p50 {p50 * ms:.1f} ms a request)"
            )
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench("sqlite", f"sqlite:///{tmp / 'cp.db'}", tmp)
        with PostgresServer() as pg:
            label = "postgresql" if WORKERS == 1 else f"pg-{WORKERS}w"
            bench(label, pg.create_database("bench"), tmp, WORKERS)


if __name__ == "__main__":
    main()
