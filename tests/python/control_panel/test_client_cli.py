"""iron_cage.client (sync against a real server process, async over ASGI) and the CLI admin commands."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import iron_cage as ic
from iron_cage.client import AsyncControlPanelClient, ControlPanelClient
from iron_cage.control_panel import ControlPanel, create_app

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from .servers import ServerProcess


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(database_url, tmp_path, "cp-1", "--sweep-interval", "0") as s:
        yield s


def test_sync_client_workflow_errors_and_transparent_refresh(server: ServerProcess) -> None:
    with ControlPanelClient(server.url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) as cp:
        dev = cp.create_user("dev@example.com", role="developer")
        assert dev.password is not None and dev.user.role == "developer"
        agent = cp.create_agent("lead-gen", owner_id=dev.user.id, budget_usd="12.5", project="sales")
        assert agent.budget.limit_usd == 12.5 and agent.project == "sales"
        token = cp.create_token(agent.id, "laptop")
        assert token.token.startswith("ic_") and token.info.prefix == token.token[:10]
        req = cp.request_budget(agent.id, 5, "more leads")
        assert cp.approve_budget_request(req.id).status == "approved"
        assert cp.get_budget(agent.id).limit_usd == 17.5
        secret = cp.create_secret("SLACK_TOKEN", "xoxb-0123456789-secret")
        assert cp.get_secret(secret.id).value is None  # masked until an admin reveals it
        assert cp.reveal_secret(secret.id).value == "xoxb-0123456789-secret"
        assert [s.masked for s in cp.list_secrets()] == [secret.masked]
        assert cp.usage_summary().requests == 0
        with pytest.raises(ic.ControlPanelError) as bad:
            cp.set_budget(agent.id, -1)
        assert bad.value.status == 422 and bad.value.code == "invalid_request"
        assert "limit_usd must be at least 0 (got -1)" in str(bad.value)  # words, not pydantic's
        with pytest.raises(ic.ControlPanelError) as missing:
            cp.get_agent(99999)
        assert missing.value.status == 404
        # An access token that stopped working is refreshed once, transparently.
        cp._auth.access = "expired.or.revoked"
        assert [a.id for a in cp.list_agents()] == [agent.id]
    with (
        ControlPanelClient(server.url, email=ADMIN_EMAIL, password="wrong-password") as wrong,
        pytest.raises(ic.ControlPanelError) as denied,
    ):
        wrong.list_agents()
    assert denied.value.status == 401


def test_async_client_over_asgi(cp: ControlPanel) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=create_app(control_panel=cp))
        async with AsyncControlPanelClient(
            "http://cp", email=ADMIN_EMAIL, password=ADMIN_PASSWORD, transport=transport
        ) as client:
            me = await client.me()
            agent = await client.create_agent("async-agent", budget_usd=3)
            listed = await client.list_agents()
            budget = await client.get_budget(agent.id)
        assert (
            me.role == "admin" and [a.name for a in listed] == ["async-agent"] and budget.available_usd == 3
        )

    asyncio.run(main())


def cli(session: Path, *args: str, stdin: str = "") -> str:
    env = dict(os.environ, IRON_CAGE_SESSION=str(session))
    r = subprocess.run(
        [sys.executable, "-m", "iron_cage", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def test_cli_admin_commands(server: ServerProcess, tmp_path: Path) -> None:
    session = tmp_path / "session.json"
    out = cli(session, "login", "--server", server.url, "--email", ADMIN_EMAIL, stdin=ADMIN_PASSWORD + "\n")
    assert "logged in" in out and ADMIN_PASSWORD not in session.read_text()
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    user = json.loads(cli(session, "user", "add", "ops@example.com", "--role", "viewer", "--json"))
    assert user["user"]["role"] == "viewer" and len(user["password"]) >= 20
    agent = json.loads(cli(session, "agent", "add", "crawler", "--budget", "20", "--json"))
    token = json.loads(cli(session, "token", "create", str(agent["id"]), "--json"))["token"]
    assert token.startswith("ic_")
    assert "$25.00" in cli(session, "budget", "set", str(agent["id"]), "25")
    lease = httpx.post(
        f"{server.url}/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 1}
    ).json()
    httpx.post(
        f"{server.url}/api/v1/budget/report",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "lease_id": lease["lease_id"],
            "reports": [{"request_id": "c1", "model": "gpt-4o", "cost_usd": "0.5", "input_tokens": 10}],
        },
    )
    by_model = json.loads(cli(session, "usage", "--by", "model", "--json"))
    assert [(g["key"], g["cost_usd"]) for g in by_model] == [("gpt-4o", 0.5)]
    assert "gpt-4o" in cli(session, "usage", "--by", "model")
    assert json.loads(cli(session, "usage", "--since", "yesterday", "--json"))["cost_usd"] == 0.5
    cli(session, "secret", "--remote", "add", "DB_URL", stdin="postgres://u:p@db/x")
    assert cli(session, "secret", "--remote", "get", "DB_URL").strip() == "postgres://u:p@db/x"
    listed = cli(session, "secret", "--remote", "list")
    assert "DB_URL" in listed and "postgres://u:p@db/x" not in listed
    assert "reveal" in cli(session, "secret", "--remote", "audit", "DB_URL")
    assert "stopped" in cli(session, "agent", "stop", str(agent["id"]))
    r = subprocess.run(
        [sys.executable, "-m", "iron_cage", "user", "list"],
        capture_output=True,
        text=True,
        env=dict(os.environ, IRON_CAGE_SESSION=str(tmp_path / "none.json")),
        timeout=60,
    )
    assert r.returncode == 2 and "which Control Panel" in r.stderr, r.stderr


def test_a_super_user_sees_their_own_budgets_and_usage_and_nothing_else(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The read-only super user: `budget mine` and `usage` from the CLI (and the client), their
    own agents only; every other read is refused."""
    password = "super-user-password-1"
    with ControlPanelClient(server.url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) as admin:
        su = admin.create_user("su@example.com", role="super_user", password=password).user
        pool = admin.set_developer_budget(su.id, 5)
        theirs = admin.create_agent("theirs", owner_id=su.id, pool_id=pool.id, budget_usd=2)
        other = admin.create_agent("other", budget_usd=3)
        for agent, cost in ((theirs, "0.25"), (other, "1.5")):
            token = admin.create_token(agent.id).token
            headers = {"authorization": f"Bearer {token}"}
            runtime = httpx.Client(base_url=f"{server.url}/api/v1", headers=headers)
            lease = runtime.post("/budget/handshake", json={"requested_usd": 2}).json()
            report = {"request_id": f"r-{agent.id}", "model": "gpt-4o-mini", "cost_usd": cost}
            sent = runtime.post("/budget/report", json={"lease_id": lease["lease_id"], "reports": [report]})
            assert sent.is_success, sent.text
            runtime.close()
    with ControlPanelClient(server.url, email="su@example.com", password=password) as me:
        mine = me.my_budgets()
        assert [p.id for p in mine.pools] == [pool.id] and [b.agent_id for b in mine.agents] == [theirs.id]
        assert me.usage_summary().cost_usd == 0.25  # their agent's spend only
        assert [g.key for g in me.usage_breakdown("agent")] == [str(theirs.id)]
        reads = (me.list_agents, me.traces, me.list_secrets, me.list_alerts, me.list_limits, me.list_leases)
        for refused in reads:
            with pytest.raises(ic.ControlPanelError) as denied:
                refused()
            assert denied.value.status == 403, refused
        with pytest.raises(ic.ControlPanelError) as denied:
            me.usage_summary(agent_id=other.id)
        assert denied.value.status == 403
    session = tmp_path / "su-session.json"
    cli(session, "login", "--server", server.url, "--email", "su@example.com", stdin=password + "\n")
    out = json.loads(cli(session, "budget", "mine", "--json"))
    assert [a["agent_id"] for a in out["agents"]] == [theirs.id] and out["pools"][0]["limit_usd"] == 5
    assert json.loads(cli(session, "usage", "--json"))["cost_usd"] == 0.25
    env = dict(os.environ, IRON_CAGE_SESSION=str(session))
    command = [sys.executable, "-m", "iron_cage", "agent", "list"]
    refused_cli = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert refused_cli.returncode != 0 and "403" in refused_cli.stderr
