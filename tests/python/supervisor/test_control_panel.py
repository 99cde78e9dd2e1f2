"""A supervised agent under a real (embedded, SQLite) Control Panel: secrets come from the
server and rotate on SIGUSR1 with no failed call, the dashboard's Stop stops the process
gracefully, process events reach /ws, and the metrics endpoint serves ic.progress/ic.outcome."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

import iron_cage as ic
from iron_cage.client import ControlPanelClient
from iron_cage.control_panel import Settings
from iron_cage.control_panel.embedded import EmbeddedControlPanel

from .conftest import WORKER, Env, wait_for

OLD_KEY = "sk-test-old-" + "a1b2c3d4" * 4
NEW_KEY = "sk-test-new-" + "e5f6a7b8" * 4


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[tuple[EmbeddedControlPanel, ControlPanelClient]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cp.db'}",
        master_key=ic.generate_master_key(),
        admin_email="admin@example.com",
        admin_password="admin-password-123",
        sweep_interval_s=1.0,
    )
    with (
        EmbeddedControlPanel(settings) as cp,
        ControlPanelClient(cp.url, email="admin@example.com", password="admin-password-123") as client,
    ):
        yield cp, client


def _events(url: str, token: str, seen: list[dict[str, Any]], stop: threading.Event) -> None:
    with connect(url.replace("http://", "ws://") + f"/ws?token={token}") as ws:
        while not stop.is_set():
            try:
                seen.append(json.loads(ws.recv(timeout=0.2)))
            except TimeoutError:
                continue


def test_secrets_rotation_stop_from_the_dashboard_events_and_metrics(
    env: Env, panel: tuple[EmbeddedControlPanel, ControlPanelClient]
) -> None:
    cp, client = panel
    agent = client.create_agent("worker", budget_usd="1.0")
    # The token reads the development secrets bound to its agent.
    token = client.create_token(agent.id, "supervisor", environment="development").token
    secret = client.create_secret("OPENAI_API_KEY", OLD_KEY, environment="development", agent_ids=[agent.id])
    access = client.tokens[0]
    assert access is not None
    seen: list[dict[str, Any]] = []
    stop_ws = threading.Event()
    listener = threading.Thread(target=_events, args=(cp.url, access, seen, stop_ws), daemon=True)
    listener.start()
    env.vars.pop("OPENAI_API_KEY")  # the key comes from the Control Panel only
    env.provider.set_latency(0.4)
    try:
        agent_id = env.start(
            "--control-panel", cp.url, "--budget", "1", WORKER, "0", IRON_CAGE_IC_TOKEN=token
        )
        wait_for("two calls", lambda: env.provider.request_count >= 2, timeout=30)
        st = env.status(agent_id)
        child = st["pid"]

        # The secret is in the agent's os.environ, and nowhere a process listing or a file shows.
        assert env.provider.requests()[0]["authorization"] == f"Bearer {OLD_KEY}"
        listing = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True).stdout
        listing_env = subprocess.run(["ps", "eww", "-p", str(child)], capture_output=True, text=True).stdout
        assert str(child) in listing and "iron_cage.run" in listing
        for text in (
            listing,
            listing_env,
            Path(f"/proc/{child}/environ").read_bytes().decode(errors="replace"),
        ):
            assert OLD_KEY not in text and token not in text
        assert token not in Path(f"/proc/{st['supervisor_pid']}/cmdline").read_text(errors="replace")

        # Rotate: a new value on the server, SIGUSR1 while a call is in flight.
        client.update_secret(secret.id, value=NEW_KEY)
        n = env.provider.request_count
        wait_for("the next call in flight", lambda: env.provider.request_count > n, timeout=10)
        in_flight = env.provider.request_count
        os.kill(st["supervisor_pid"], signal.SIGUSR1)
        wait_for(
            "a call with the new key",
            lambda: any(r["authorization"] == f"Bearer {NEW_KEY}" for r in env.provider.requests()),
            timeout=15,
        )
        wait_for("the call in flight at the signal", lambda: f"call {in_flight} ok" in env.output(agent_id))
        keys = [r["authorization"] for r in env.provider.requests()]
        first_new = keys.index(f"Bearer {NEW_KEY}")
        assert first_new >= in_flight - 1  # the call in flight kept its key and finished
        assert set(keys[:first_new]) == {f"Bearer {OLD_KEY}"} and set(keys[first_new:]) == {
            f"Bearer {NEW_KEY}"
        }

        # The dashboard's Stop: the process stops gracefully and is not restarted.
        metrics_before_stop = wait_for(
            "metrics on the server",
            lambda: (
                (m := _metrics(cp.url, access, agent.id))["metrics"] is not None
                and m["metrics"]["done"] >= 3
                and m
            ),
        )
        client.stop_agent(agent.id)
        final = wait_for(
            "the stop", lambda: (s := env.status(agent_id))["state"] == "stopped" and s, timeout=30
        )
        # The supervisor tells the server after the process ended: wait for it on /ws.
        wait_for(
            "the stop on /ws",
            lambda: any(e.get("event") == "agent_stopped" for e in seen if e.get("type") == "AGENT_EVENT"),
            timeout=30,
        )
    finally:
        stop_ws.set()
        listener.join(timeout=5)
    assert final["restarts"] == 0 and "Control Panel" in final["reason"]
    out = env.output(agent_id)
    assert not any("FAILED" in line for line in out), out
    calls = sum(1 for line in out if line.endswith(" ok"))
    assert calls == env.provider.request_count

    # Every call reported (the outbox flushed) and the lease returned.
    usage = wait_for("the reports", lambda: (u := client.usage_summary()).requests == calls and u, timeout=10)
    assert usage.cost_usd == pytest.approx(final["spent_usd"], abs=1e-6)
    assert all(lease.status != "active" for lease in client.list_leases(agent_id=agent.id))

    # Process events went out on /ws.
    events = [e.get("event") for e in seen if e.get("type") == "AGENT_EVENT"]
    assert "agent_started" in events and "agent_stopped" in events, events
    m = _metrics(cp.url, access, agent.id)
    assert m["process"]["state"] == "stopped" and m["process"]["local_id"] == agent_id
    got = metrics_before_stop["metrics"]
    assert re.match(r"^\d+ leads$", got["progress"]) and got["unit"] == "leads"
    assert got["success_rate"] == 1.0 and got["throughput_per_hour"] > 0 and got["latency_s"]["p50"] > 0
    assert got["throughput"].endswith(" leads/hour") and float(got["cost_per_unit_usd"]) > 0

    # No secret or token in any file of the agent's directory.
    files = env.files_text(agent_id)
    for value in (OLD_KEY, NEW_KEY, token):
        assert value not in files


def _metrics(url: str, access: str, agent_id: int) -> dict[str, Any]:
    r = httpx.get(f"{url}/api/v1/agents/{agent_id}/metrics", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data
