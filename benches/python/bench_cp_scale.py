"""Control Panel at scale: many simulated runtimes speaking the real lease protocol.

Each simulated runtime is an asyncio task with its own keep-alive connection (HTTP/1.1 by
h11, so the load generator spends little CPU per request) and its own agent and IC token.
It does what the lease client does: a handshake, then one LLM call a second reported at
every flush (1 s after the previous flush returned, as the lease client's worker waits),
a refresh when the lease runs below a quarter, and a return at the end. It never polls its
lease: like the lease client, it learns of a stop or new limits from each report's answer
and polls only after five flush intervals without one. The runtimes are spread round-robin
over the replicas, as behind a load balancer. At the end the bench checks that every agent's
recorded spend equals what its runtime reported, and prints latencies per request kind, the
achieved rate and the CPU time each process used per report request (server replicas and
PostgreSQL).

Usage: bench_cp_scale.py [--runtimes N] [--replicas R] [--workers W] [--seconds S]
                         [--backend postgresql|sqlite] [--interval SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import h11
import httpx

from iron_cage import _core

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))
from cp_server import ADMIN, start_server

from pg_server import PostgresServer

COST = Decimal("0.0001")  # one call
SLICE = Decimal("0.002")  # each handshake and refresh: 20 calls, so runtimes refresh now and then


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and their children so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


def with_children(pids: list[int]) -> list[int]:
    """These processes and their children (a server's workers; PostgreSQL's backends)."""
    out = list(pids)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) in pids:
                out.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return out


def postgres_pids(server: PostgresServer) -> list[int]:
    return with_children([int((server.data / "postmaster.pid").read_text().split()[0])])


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.h11 = h11.Connection(h11.CLIENT)

    async def request(
        self, method: str, path: str, token: str, body: object | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        data = b"" if body is None else json.dumps(body).encode()
        headers = [("host", "127.0.0.1"), ("authorization", f"Bearer {token}")]
        if body is not None:
            headers += [("content-type", "application/json"), ("content-length", str(len(data)))]
        out = self.h11.send(h11.Request(method=method, target=path, headers=headers))
        if data:
            out += self.h11.send(h11.Data(data=data))
        out += self.h11.send(h11.EndOfMessage())
        self.writer.write(out)
        status, chunks = 0, []
        while True:
            ev = self.h11.next_event()
            if ev is h11.NEED_DATA:
                self.h11.receive_data(await self.reader.read(65536))
            elif isinstance(ev, h11.Response):
                status = ev.status_code
            elif isinstance(ev, h11.Data):
                chunks.append(bytes(ev.data))
            elif isinstance(ev, h11.EndOfMessage):
                break
            elif isinstance(ev, h11.ConnectionClosed):
                raise ConnectionError("server closed the connection")
        self.h11.start_next_cycle()
        return status, b"".join(chunks)


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    sent: dict[int, Decimal] = field(default_factory=dict)  # agent id -> reported cost
    reports: int = 0

    def add(self, kind: str, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)


async def runtime(
    k: int, agent_id: int, token: str, port: int, stats: Stats, seconds: float, interval: float
) -> None:
    api = "/api/v1/budget"
    conn = Conn(port)
    await asyncio.sleep(random.random() * interval)  # runtimes start spread over one interval

    async def call(kind: str, method: str, path: str, body: object | None = None) -> dict[str, object]:
        t = time.perf_counter()
        status, raw = await conn.request(method, path, token, body)
        stats.add(kind, time.perf_counter() - t)
        if status >= 300:
            stats.errors[kind] = stats.errors.get(kind, 0) + 1
            raise RuntimeError(f"{kind}: HTTP {status}: {raw[:300]!r}")
        answer: dict[str, object] = json.loads(raw)
        return answer

    lease = await call(
        "handshake", "POST", f"{api}/handshake", {"requested_usd": str(SLICE), "runtime": f"r{k}"}
    )
    lease_id = str(lease["lease_id"])
    remaining = Decimal(str(lease["lease_remaining_usd"]))
    end = time.monotonic() + seconds
    n = 0
    sent = Decimal(0)
    while time.monotonic() < end:
        await asyncio.sleep(interval)
        n += 1
        report = {
            "request_id": f"a{agent_id}-{n}",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "input_tokens": 600,
            "output_tokens": 80,
            "cost_usd": str(COST),
            "latency_ms": 700.0,
        }
        answer = await call("report", "POST", f"{api}/report", {"lease_id": lease_id, "reports": [report]})
        sent += COST
        stats.reports += 1
        remaining = Decimal(str(answer["lease"]["lease_remaining_usd"]))  # type: ignore[index]
        if remaining < SLICE / 4:
            refreshed = await call(
                "refresh", "POST", f"{api}/refresh", {"lease_id": lease_id, "requested_usd": str(SLICE)}
            )
            remaining = Decimal(str(refreshed["lease_remaining_usd"]))
    await call("return", "POST", f"{api}/return", {"lease_id": lease_id})
    stats.sent[agent_id] = sent


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]


async def create_agents(base: str, n: int) -> list[tuple[int, str]]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        login = await c.post("/auth/login", json=ADMIN)
        admin = {"Authorization": "Bearer " + login.json()["access_token"]}
        me = (await c.get("/users/me", headers=admin)).json()
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> tuple[int, str]:
            async with sem:
                body = {"name": f"scale-{i}", "owner_id": me["id"], "budget_usd": 1000}
                agent = (await c.post("/agents", headers=admin, json=body)).json()
                tok = await c.post(f"/agents/{agent['id']}/tokens", headers=admin, json={})
                return int(agent["id"]), str(tok.json()["token"])

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def spent_of(base: str, agents: list[int]) -> dict[int, Decimal]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        login = await c.post("/auth/login", json=ADMIN)
        admin = {"Authorization": "Bearer " + login.json()["access_token"]}
        sem = asyncio.Semaphore(8)

        async def one(a: int) -> tuple[int, Decimal]:
            async with sem:
                b = (await c.get(f"/agents/{a}/budget", headers=admin)).json()
                return a, Decimal(str(b["spent_usd"])).quantize(Decimal("0.000001"))

        return dict(await asyncio.gather(*(one(a) for a in agents)))


def run(args: argparse.Namespace, database_url: str, tmp: Path, pg: PostgresServer | None) -> None:
    key = _core.generate_master_key()
    servers = [
        start_server(
            database_url, tmp / f"replica{i}.log", master_key=key, replica=f"cp-{i + 1}", workers=args.workers
        )
        for i in range(args.replicas)
    ]
    try:
        base = f"http://127.0.0.1:{servers[0][1]}/api/v1"
        t = time.perf_counter()
        agents = asyncio.run(create_agents(base, args.runtimes))
        print(f"created {len(agents)} agents and IC tokens in {time.perf_counter() - t:.1f} s", flush=True)
        stats = Stats()
        pids = with_children([p.pid for p, _ in servers])
        pg_pids = postgres_pids(pg) if pg is not None else []
        cpu0, pg0, wall0 = cpu_seconds(pids), cpu_seconds(pg_pids), time.perf_counter()

        async def all_runtimes() -> None:
            await asyncio.gather(
                *(
                    runtime(k, a, tok, servers[k % len(servers)][1], stats, args.seconds, args.interval)
                    for k, (a, tok) in enumerate(agents)
                )
            )

        asyncio.run(all_runtimes())
        wall = time.perf_counter() - wall0
        pg_pids = postgres_pids(pg) if pg is not None else []  # backends started meanwhile too
        pids = with_children([p.pid for p, _ in servers])
        cpu, pg_cpu = cpu_seconds(pids) - cpu0, cpu_seconds(pg_pids) - pg0
        spent = asyncio.run(spent_of(base, [a for a, _ in agents]))
        wrong = {a: (spent[a], stats.sent.get(a)) for a in spent if spent[a] != stats.sent.get(a)}
        assert not wrong, f"recorded spend differs from what was reported: {list(wrong.items())[:5]}"
        assert not stats.errors, stats.errors
        label = (
            f"{args.backend}, {args.replicas} replica(s) x {args.workers} worker(s), {args.runtimes} runtimes"
        )
        print(f"{label}: {wall:.1f} s, {stats.reports} reports ({stats.reports / wall:.0f}/s), spend checked")
        for kind, values in stats.latency.items():
            print(
                f"  {kind:9s} n={len(values):6d}  p50 {pct(values, 0.5) * 1000:7.1f} ms  "
                f"p99 {pct(values, 0.99) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms"
            )
        requests = sum(len(v) for v in stats.latency.values())
        print(
            f"  CPU per request: replicas {cpu / requests * 1000:.2f} ms"
            + (f", PostgreSQL {pg_cpu / requests * 1000:.2f} ms" if pg is not None else "")
            + f"; load {(cpu + pg_cpu) / wall:.2f} cores of {os.cpu_count()}"
        )
    finally:
        for proc, _ in servers:
            proc.terminate()
        for proc, _ in servers:
            proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtimes", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=1, help="server processes per replica (PostgreSQL)")
    ap.add_argument("--interval", type=float, default=1.0, help="flush interval of each runtime (s)")
    ap.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    args = ap.parse_args()
    if args.backend == "sqlite" and args.replicas != 1:
        ap.error("SQLite serves one replica: use --backend postgresql for several")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.backend == "sqlite":
            run(args, f"sqlite:///{tmp / 'cp.db'}", tmp, None)
        else:
            with PostgresServer() as server:
                run(args, server.create_database("scale"), tmp, server)


if __name__ == "__main__":
    main()
