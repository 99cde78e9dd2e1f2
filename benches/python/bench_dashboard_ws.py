"""Live events to many dashboard viewers: from an event's creation on the server to its arrival
at each of 100 WebSocket viewers (plus 3 real Chromium pages), while a runtime reports.

Each backend gets real server processes (`iron-cage control-panel serve`, one uvicorn worker
each) on 127.0.0.1: SQLite with one server; PostgreSQL with two replicas on one database, the
viewers on the first and the runtime reporting to the second (events cross by NOTIFY/LISTEN).
The runtime sends one usage report per call (`POST /budget/report`, as the lease client does
when calls are far apart), 20 per second; each report is one `AGENT_EVENT` (usage). The
latency of an event at a viewer is its arrival time minus its `at` (stamped by the server
when the event is made, inside the report's transaction: so it includes the commit), on the
same machine's clock. The 100 viewers are `websockets` clients in this process (one asyncio
loop); the browsers are Debian's Chromium pages on the dashboard's origin with a WebSocket of
their own (Playwright; nothing downloaded).

Usage: bench_dashboard_ws.py [--quick]        (part of make bench-control-panel)
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from iron_cage import _core

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))
import cp_server
from cp_server import ADMIN

from pg_server import PostgresServer

QUICK = "--quick" in sys.argv
VIEWERS = 100
BROWSERS = 3
EVENTS = 100 if QUICK else 400
RATE = 20.0  # reports per second
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MASTER_KEY = _core.generate_master_key()


def start_server(database_url: str, log: Path, replica: str) -> tuple[subprocess.Popen[bytes], str]:
    proc, port = cp_server.start_server(database_url, log, master_key=MASTER_KEY, replica=replica)
    return proc, f"http://127.0.0.1:{port}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]


def created(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["at"])).timestamp()


async def viewer(url: str, token: str, ready: asyncio.Event, out: list[float], want: int) -> None:
    async with connect(f"{url.replace('http', 'ws')}/ws?token={token}", max_queue=None) as ws:
        ready.set()
        got = 0
        async for raw in ws:
            now = time.time()
            event = json.loads(raw)
            if event.get("type") == "AGENT_EVENT" and event.get("event") == "usage":
                out.append(now - created(event))
                got += 1
                if got == want:
                    return


def browsers(url: str, token: str, opened: threading.Event, done: threading.Event, out: list[float]) -> None:
    """Chromium pages with a WebSocket each; their arrival times are read back at the end."""
    from playwright.sync_api import sync_playwright

    flags = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        pages = []
        for _ in range(BROWSERS):
            page = b.new_page()
            page.goto(url)
            page.evaluate(
                """(src) => new Promise((open) => {
                    window.arrivals = [];
                    const ws = new WebSocket(src);
                    ws.onopen = open;
                    ws.onmessage = (m) => {
                        const e = JSON.parse(m.data);
                        if (e.type === "AGENT_EVENT" && e.event === "usage")
                            window.arrivals.push(Date.now() / 1000 - Date.parse(e.at) / 1000);
                    };
                })""",
                f"{url.replace('http', 'ws')}/ws?token={token}",
            )
            pages.append(page)
        opened.set()
        done.wait()
        for page in pages:
            page.wait_for_function(f"() => window.arrivals.length >= {EVENTS}", timeout=60_000)
            out.extend(page.evaluate("() => window.arrivals"))
        b.close()


def report_calls(base: str, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=60) as c:
        lease = c.post(f"{base}/api/v1/budget/handshake", json={"requested_usd": 1000}, headers=auth).json()
        start = time.perf_counter()
        for n in range(EVENTS):
            body = {
                "lease_id": lease["lease_id"],
                "reports": [{"request_id": f"ws{n}", "model": "gpt-4o-mini", "cost_usd": "0.0001"}],
            }
            r = c.post(f"{base}/api/v1/budget/report", json=body, headers=auth)
            assert r.status_code == 200, r.text
            time.sleep(max(0.0, start + (n + 1) / RATE - time.perf_counter()))


async def run(label: str, view_url: str, report_url: str) -> None:
    with httpx.Client(timeout=60) as c:
        token = c.post(f"{view_url}/api/v1/auth/login", json=ADMIN).json()["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        agent = c.post(
            f"{view_url}/api/v1/agents", headers=admin, json={"name": "ws", "budget_usd": 1e6}
        ).json()
        ic_token = c.post(f"{view_url}/api/v1/agents/{agent['id']}/tokens", headers=admin, json={}).json()[
            "token"
        ]

    per_viewer: list[list[float]] = [[] for _ in range(VIEWERS)]
    readies = [asyncio.Event() for _ in range(VIEWERS)]
    tasks = [
        asyncio.create_task(viewer(view_url, token, readies[i], per_viewer[i], EVENTS))
        for i in range(VIEWERS)
    ]
    for r in readies:
        await r.wait()
    in_browsers: list[float] = []
    opened, done = threading.Event(), threading.Event()
    chrome = threading.Thread(target=browsers, args=(view_url, token, opened, done, in_browsers))
    chrome.start()
    await asyncio.to_thread(opened.wait, 120)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(report_calls, report_url, ic_token)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    done.set()
    await asyncio.to_thread(chrome.join, 120)

    viewers = [x for xs in per_viewer for x in xs]
    assert all(len(xs) == EVENTS for xs in per_viewer), [len(xs) for xs in per_viewer]
    # Where a slow event lost its time: its first viewer late too means before the fan-out
    # (commit, NOTIFY, the other replica's LISTEN thread); only its last, in the fan-out.
    arrivals = [[xs[n] for xs in per_viewer] for n in range(EVENTS)]
    per_event = sorted(((max(xs), min(xs)) for xs in arrivals), reverse=True)
    slowest = ", ".join(f"{last * 1000:.0f}/{first * 1000:.0f}" for last, first in per_event[:5])
    assert len(in_browsers) == BROWSERS * EVENTS, len(in_browsers)
    ms = 1000
    print(
        f"{label:22s} {VIEWERS} viewers x {EVENTS} events: p50 {statistics.median(viewers) * ms:6.1f} ms  "
        f"p99 {pct(viewers, 0.99) * ms:6.1f} ms  max {max(viewers) * ms:6.1f} ms   "
        f"{BROWSERS} Chromium pages: p50 {statistics.median(in_browsers) * ms:6.1f} ms  "
        f"p99 {pct(in_browsers, 0.99) * ms:6.1f} ms"
    )
    print(f"{label:22s} the 5 slowest events, last / first viewer: {slowest} ms")


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        proc, url = start_server(f"sqlite:///{tmp / 'cp.db'}", tmp / "sqlite.log", "cp-1")
        try:
            asyncio.run(run("sqlite", url, url))
        finally:
            proc.terminate()
            proc.wait(30)
        with PostgresServer() as pg:
            db = pg.create_database("bench")
            a, url_a = start_server(db, tmp / "pg-a.log", "cp-a")
            b, url_b = start_server(db, tmp / "pg-b.log", "cp-b")
            try:
                asyncio.run(run("postgresql, 2 replicas", url_a, url_b))
            finally:
                for proc in (a, b):
                    proc.terminate()
                    proc.wait(30)


if __name__ == "__main__":
    main()
