"""Failover between Control Panel replicas: two real server processes on one PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

import iron_cage as ic
from iron_cage import _lease
from iron_cage._exceptions import ConfigError
from iron_cage.testing import FakeProvider
from pg_server import PostgresServer

from .servers import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "chaos"))
from proxy import FaultProxy  # type: ignore[import-not-found]


@pytest.fixture
def replicas(postgres: PostgresServer, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    url = postgres.create_database(f"failover_{tmp_path.name[-8:]}".lower(), template="ic_template")
    servers = [ServerProcess(url, tmp_path, f"cp-{i}", "--sweep-interval", "0") for i in (1, 2)]
    for s in servers:
        s.start()
    yield servers
    for s in servers:
        s.stop()


def _budget(server: ServerProcess, agent_id: int) -> dict[str, float]:
    r = httpx.get(f"{server.url}/api/v1/agents/{agent_id}/budget", headers=server.admin_headers())
    out: dict[str, float] = r.json()
    return out


def _ask(client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=10
    )


def test_urls_parse_and_the_outbox_name_keeps_to_the_first_url() -> None:
    assert _lease.resolve(["http://a:1", " http://b:2 "], "t", "x") == ("http://a:1,http://b:2", "t")
    assert _lease.resolve("http://a:1,http://b:2", "t", "x") == ("http://a:1,http://b:2", "t")
    assert _lease.default_outbox("http://a:1,http://b:2", "t") == _lease.default_outbox("http://a:1", "t")
    with pytest.raises(ConfigError, match="must start with http"):
        _lease.resolve(["http://a:1", "b:2"], "t", "x")
    with pytest.raises(ConfigError, match="no Control Panel URL"):
        _lease.resolve(" , ", "t", "x")


def test_kill_9_of_a_replica_mid_run_fails_over_and_totals_are_exact(
    replicas: list[ServerProcess], tmp_path: Path
) -> None:
    a, b = replicas
    _, agent, token = a.new_agent("failover", 5)
    with (
        FakeProvider() as fake,
        ic.AgentRuntime(
            budget=1, control_panel=[a.url, b.url], ic_token=token, outbox_path=tmp_path / "o.db"
        ) as rt,
    ):
        client = rt.instrument(openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0))
        for _ in range(5):
            _ask(client)
        assert rt.lease is not None and rt.lease.flush()
        assert rt.lease.status()["server"].startswith(a.url)
        assert a.proc is not None
        a.proc.kill()  # SIGKILL
        a.proc.wait()
        for _ in range(7):
            _ask(client)
        assert rt.lease.flush()
        status = rt.lease.status()
        assert status["server"].startswith(b.url) and status["failovers"] >= 1
        assert b.url in status["last_failover"]
        spent = rt.spent_usd
        billed = fake.request_count
    budget = _budget(b, agent["id"])
    assert billed == 12
    assert budget["spent_usd"] == pytest.approx(spent, abs=1e-6)
    assert budget["leased_usd"] == 0  # returned through b


def test_a_resend_after_a_lost_answer_counts_once(replicas: list[ServerProcess], tmp_path: Path) -> None:
    """A's answer to a report batch is lost after A recorded it; the batch goes again to B."""
    a, b = replicas
    _, agent, token = a.new_agent("resend", 5)
    with FaultProxy(a.port) as proxy, FakeProvider() as fake:
        rt = ic.AgentRuntime(
            budget=1, control_panel=f"{proxy.url},{b.url}", ic_token=token, outbox_path=tmp_path / "o.db"
        )
        with rt:
            client = rt.instrument(openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0))
            for _ in range(6):
                _ask(client)
            proxy.drop_responses(1)
            assert rt.lease is not None and rt.lease.flush()
            assert proxy.dropped_responses == 1
            assert rt.lease.status()["server"].startswith(b.url)
            spent = rt.spent_usd
    usage = httpx.get(f"{b.url}/api/v1/usage/summary", headers=b.admin_headers()).json()
    assert usage["requests"] == 6
    assert _budget(b, agent["id"])["spent_usd"] == pytest.approx(spent, abs=1e-6)
