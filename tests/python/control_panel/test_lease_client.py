"""The Rust lease client end to end: real Control Panel processes, real openai client, FakeProvider."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import iron_cage as ic
from iron_cage.testing import FakeProvider

from .conftest import RuntimeKeys
from .servers import ServerProcess

PROVIDER_KEY = "sk-fake-provider-key-0123456789"


@dataclass
class Env:
    server: ServerProcess
    fake: FakeProvider
    admin: dict[str, str]
    agent_id: int
    token: str
    tmp: Path

    def api(self, method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(method, f"{self.server.url}/api/v1{path}", headers=self.admin, timeout=30, **kw)
        assert r.status_code < 400, r.text
        return r.json() if r.content else None

    def budget(self) -> dict[str, float]:
        out: dict[str, float] = self.api("GET", f"/agents/{self.agent_id}/budget")
        return out

    def usage_count(self) -> int:
        return int(self.api("GET", "/usage/summary")["requests"])

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.fake.base_url, api_key=PROVIDER_KEY, max_retries=0)


def wait_for(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    yield from lease_env(database_url, tmp_path)


def lease_env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    """A server process (sweeping every 0.2 s, no lease grace), FakeProvider, an agent of $1
    with an IC token, and the provider key in the vault."""
    server = ServerProcess(database_url, tmp_path, "cp-1", "--sweep-interval", "0.2", "--lease-grace", "0")
    server.start()
    with FakeProvider(api_key=PROVIDER_KEY) as fake:
        try:
            admin, agent, token = server.new_agent("leads", 1)
            httpx.post(
                f"{server.url}/api/v1/providers/keys",
                headers=admin,
                json={"provider": "openai", "key": PROVIDER_KEY, "base_url": fake.base_url},
            )
            yield Env(server, fake, admin, agent["id"], token, tmp_path)
        finally:
            server.stop()


def ask(client: openai.OpenAI, text: str = "hello", max_tokens: int = 20) -> str:
    r = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}], max_tokens=max_tokens
    )
    return r.choices[0].message.content or ""


def test_library_mode_leases_enforces_reports_and_returns(env: Env) -> None:
    outbox = env.tmp / "outbox.db"
    with ic.AgentRuntime(
        budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=outbox
    ) as rt:
        assert rt.lease is not None and rt.lease.lease_id.startswith("lse_")
        assert env.budget()["leased_usd"] == 0.5
        client = rt.instrument(env.client())
        for i in range(12):
            ask(client, f"question {i}")
        spent = rt.spent_usd
        assert 0 < spent < 0.5
        assert rt.lease.flush()
        assert env.usage_count() == 12
        assert env.budget()["spent_usd"] == pytest.approx(spent, abs=1e-6)
        assert rt.metrics()["control_panel"]["reports_sent"] == 12
    # Leaving the block returned the lease: nothing stays leased, the spend is exact.
    b = env.budget()
    assert b["leased_usd"] == 0 and b["spent_usd"] == pytest.approx(spent, abs=1e-6)
    assert b["available_usd"] == pytest.approx(1 - spent, abs=1e-6)


def test_the_lease_is_a_hard_local_limit(env: Env) -> None:
    """A lease of $0.0005 admits only what it covers; the refusal comes before the call."""
    httpx.put(
        f"{env.server.url}/api/v1/agents/{env.agent_id}/budget",
        json={"limit_usd": "0.0005"},
        headers=env.admin,
    )
    with ic.AgentRuntime(
        budget=1, control_panel=env.server.url, ic_token=env.token, outbox_path=env.tmp / "o.db"
    ) as rt:
        client = rt.instrument(env.client())
        sent_before = env.fake.request_count
        calls = 0
        refused: ic.BudgetExceededError | None = None
        for _ in range(100):
            try:
                ask(client, max_tokens=10)
            except ic.BudgetExceededError as exc:
                refused = exc
                break
            calls += 1
        assert refused is not None and calls > 0
        assert env.fake.request_count == sent_before + calls
        assert rt.spent_usd <= 0.0005
    assert env.budget()["spent_usd"] <= 0.0005


def test_server_outage_mid_run_keeps_enforcing_and_every_report_arrives_once(env: Env) -> None:
    outbox = env.tmp / "outbox.db"
    with ic.AgentRuntime(
        budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=outbox
    ) as rt:
        client = rt.instrument(env.client())
        for _ in range(5):
            ask(client)
        assert rt.lease is not None and rt.lease.flush()
        env.server.stop()
        for _ in range(7):  # the server is down: calls still run against the lease
            ask(client)
        assert not rt.lease.flush()
        assert rt.lease.pending_reports == 7
        assert rt.metrics()["control_panel"]["connected"] is False
        env.server.start()
        wait_for(lambda: rt.lease is not None and rt.lease.pending_reports == 0)
        spent = rt.spent_usd
    assert env.usage_count() == 12
    assert env.budget()["spent_usd"] == pytest.approx(spent, abs=1e-6)
    assert env.budget()["leased_usd"] == 0


def test_reports_left_in_the_outbox_are_replayed_by_the_next_run(env: Env) -> None:
    outbox = env.tmp / "outbox.db"
    rt = ic.AgentRuntime(budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=outbox)
    with rt:
        client = rt.instrument(env.client())
        env.server.stop()  # from here nothing can be reported, and closing cannot return the lease
        for _ in range(4):
            ask(client)
    assert rt.lease is None
    env.server.start()
    assert env.usage_count() == 0
    with ic.AgentRuntime(
        budget=0.1, control_panel=env.server.url, ic_token=env.token, outbox_path=outbox
    ) as rt2:
        assert rt2.lease is not None
        wait_for(lambda: rt2.lease is not None and rt2.lease.pending_reports == 0)
    assert env.usage_count() == 4  # replayed once, into the first (now closed) lease


def test_a_stop_from_the_control_panel_reaches_the_runtime(env: Env) -> None:
    with ic.AgentRuntime(
        budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=env.tmp / "o.db"
    ) as rt:
        client = rt.instrument(env.client())
        ask(client)
        env.api("POST", f"/agents/{env.agent_id}/stop")
        assert rt.lease is not None
        wait_for(lambda: rt.lease is not None and rt.lease.stop_requested)
        with pytest.raises(ic.BudgetExceededError):
            ask(client)


def test_router_mode_takes_the_provider_key_from_the_control_panel(env: Env) -> None:
    with ic.LlmRouter(
        server_url=env.server.url, api_key=env.token, budget=0.5, outbox_path=env.tmp / "router.db"
    ) as router:
        assert router.api_key == env.token  # clients present the IC token, never the provider key
        client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
        for _ in range(3):
            assert ask(client)
        assert router.lease is not None and router.lease.flush()
        assert env.usage_count() == 3
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=router.base_url, api_key="sk-wrong", max_retries=0).models.list()
    assert env.budget()["leased_usd"] == 0


def test_bad_token_or_unreachable_server_is_a_clear_error(env: Env, tmp_path: Path) -> None:
    with pytest.raises(ic.ControlPanelError, match="unknown or revoked IC token"):
        ic.AgentRuntime(control_panel=env.server.url, ic_token="ic_forged", outbox_path=tmp_path / "a.db")
    with pytest.raises(ic.ControlPanelError, match="cannot reach the Control Panel"):
        ic.AgentRuntime(control_panel="http://127.0.0.1:9", ic_token=env.token, outbox_path=tmp_path / "b.db")
    with pytest.raises(ic.ConfigError, match="needs both"):
        ic.AgentRuntime(control_panel=env.server.url)


def test_an_outbox_that_cannot_be_written_refuses_calls_and_loses_no_report(env: Env, tmp_path: Path) -> None:
    """Disk full under the outbox: the call whose report hit it is still reported (kept in
    memory), and the next calls are refused instead of made unrecorded."""
    disk = tmp_path / "tiny"
    disk.mkdir()
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("needs a tmpfs to fill: no mount command")
    mounted = subprocess.run([mount, "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"needs a tmpfs to fill: {mounted.stderr.decode().strip()}")
    try:
        with ic.AgentRuntime(
            budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=disk / "o.db"
        ) as rt:
            assert rt.lease is not None
            client = rt.instrument(env.client())
            for i in range(3):
                ask(client, f"question {i}")
            fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for chunk in (65536, 512):
                    try:
                        while True:
                            os.write(fd, b"\0" * chunk)
                    except OSError:
                        pass
            finally:
                os.close(fd)
            made, refused = 3, False
            for i in range(5):  # the first write that needs room fails inside its call
                try:
                    ask(client, f"after {i}")
                except ic.BudgetExceededError:
                    refused = True
                    break
                made += 1
            assert refused and made <= 5, made
            assert "cannot write usage reports" in rt.lease.status()["last_error"]
            assert env.fake.request_count == made
            rt.lease.flush()  # (true only once the delivered ones can be deleted from the file)
            wait_for(lambda: env.usage_count() == made)  # the one kept in memory arrived too
            os.unlink(disk / "filler")
            wait_for(rt.lease.flush)
            assert env.usage_count() == made  # sent again from the file: counted once
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_killed_runtime_lease_returns_to_the_pool_after_expiry(database_url: str, tmp_path: Path) -> None:
    server = ServerProcess(
        database_url, tmp_path, "cp-1", "--sweep-interval", "0.2", "--lease-grace", "0", "--lease-ttl", "2"
    )
    with server:
        admin, agent, token = server.new_agent("doomed", 3)
        code = (
            "import iron_cage as ic, sys, time\n"
            f"rt = ic.AgentRuntime(budget=2, control_panel={server.url!r}, ic_token={token!r}, "
            f"outbox_path={str(tmp_path / 'k.db')!r})\n"
            "print('leased', flush=True)\n"
            "time.sleep(600)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=dict(os.environ))
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"leased"

            def budget() -> dict[str, float]:
                out: dict[str, float] = httpx.get(
                    f"{server.url}/api/v1/agents/{agent['id']}/budget", headers=admin
                ).json()
                return out

            assert budget()["leased_usd"] == 2.0
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            wait_for(lambda: budget()["leased_usd"] == 0.0)
            assert budget()["available_usd"] == 3.0
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def test_limits_from_the_control_panel_are_enforced_by_the_runtime(env: Env) -> None:
    env.api(
        "POST", "/limits", json={"kind": "max_cost_per_request_usd", "value": 0.01, "agent_id": env.agent_id}
    )
    env.api("POST", "/limits", json={"kind": "max_requests_per_minute", "value": 3, "agent_id": env.agent_id})
    with ic.AgentRuntime(
        budget=0.5, control_panel=env.server.url, ic_token=env.token, outbox_path=env.tmp / "o.db"
    ) as rt:
        client = rt.instrument(env.client())
        sent = env.fake.request_count
        with pytest.raises(ic.LimitExceededError, match="per-request limit"):
            ask(client, max_tokens=4000)  # its worst case is over $0.01: refused before sending
        assert env.fake.request_count == sent
        for _ in range(3):
            ask(client, max_tokens=20)
        with pytest.raises(ic.RateLimitedError) as limited:
            ask(client, max_tokens=20)
        assert 0 < limited.value.retry_after_s <= 60
        assert env.fake.request_count == sent + 3
    with ic.LlmRouter(
        server_url=env.server.url, api_key=env.token, budget=0.5, outbox_path=env.tmp / "r.db"
    ) as router:
        client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as denied:
            ask(client, max_tokens=4000)
        assert denied.value.status_code == 403 and denied.value.code == "limit_exceeded"


def test_a_daily_limit_caps_what_the_server_leases(env: Env) -> None:
    env.api("POST", "/limits", json={"kind": "daily_usd", "value": 0.2})  # global
    ask_for = {"ic_token": env.token, "requested_usd": 0.5, "key_exchange": RuntimeKeys().request()}
    lease = httpx.post(f"{env.server.url}/api/v1/budget/handshake", json=ask_for).json()
    assert lease["granted_usd"] == 0.2
    again = httpx.post(f"{env.server.url}/api/v1/budget/handshake", json=ask_for)
    assert again.status_code == 402 and "daily limit" in again.json()["error"]["message"]


def test_refreshes_for_the_lease_half_life_top_it_up_to_one_slice(database_url: str, tmp_path: Path) -> None:
    """A runtime that spends little still refreshes every half lease life; each refresh asks
    for what brings the lease back to one slice, so it never holds more than about a slice."""
    server = ServerProcess(database_url, tmp_path, "cp-ttl", "--lease-ttl", "2", "--sweep-interval", "0")
    server.start()
    try:
        admin, agent, token = server.new_agent("idle", 10)
        with (
            FakeProvider() as fake,
            ic.AgentRuntime(
                budget=1.0, control_panel=server.url, ic_token=token, outbox_path=tmp_path / "outbox.db"
            ) as rt,
        ):
            client = rt.instrument(openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0))
            ask(client)
            assert rt.lease is not None
            lease_id = rt.lease.lease_id
            granted = []
            for _ in range(6):  # three lease lives of 2 s: about six half-life refreshes
                time.sleep(1.0)
                lease = httpx.get(
                    f"{server.url}/api/v1/budget/leases/{lease_id}", headers=admin, timeout=30
                ).json()
                granted.append(lease["granted_usd"])
            assert lease["status"] == "active"  # 6 s into a 2 s lease: it was refreshed
            # A slice, plus what was spent, plus at most a hundredth of a slice per refresh
            # (before: a whole slice more at every refresh).
            assert max(granted) <= 1.0 + rt.spent_usd + 0.01 * 8, granted
            budget = httpx.get(f"{server.url}/api/v1/agents/{agent['id']}/budget", headers=admin).json()
            assert budget["leased_usd"] <= 1.0 + 0.01 * 8, budget
    finally:
        server.stop()
