"""The product spec's spellings beside today's names: ``pii_detection=``, breaker settings in
``circuit_breaker=``, ``ic_token=`` with the Control Panel from the environment, the same
Control Panel arguments for the router, and ``IronCageChain(llm=...).run(...)``; real clients
against FakeProvider and an embedded Control Panel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from faker import Faker
from langchain_openai import ChatOpenAI

import iron_cage as ic
from iron_cage.client import ControlPanelClient
from iron_cage.control_panel import Settings
from iron_cage.control_panel.embedded import EmbeddedControlPanel
from iron_cage.integrations.langchain import IronCageChain
from iron_cage.testing import FakeProvider

fake_data = Faker()
ADMIN, PASSWORD = "admin@example.com", "correct horse battery staple"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[tuple[EmbeddedControlPanel, ControlPanelClient]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cp.db'}",
        master_key="test-master-key-0123456789abcdef",
        admin_email=ADMIN,
        admin_password=PASSWORD,
    )
    with (
        EmbeddedControlPanel(settings) as cp,
        ControlPanelClient(cp.url, email=ADMIN, password=PASSWORD) as c,
    ):
        yield cp, c


def client_for(base_url: str, key: str = "k") -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


def reply(client: openai.OpenAI) -> str:
    r = client.chat.completions.create(
        model="gpt-4o-mini", max_tokens=30, messages=[{"role": "user", "content": "who?"}]
    )
    return r.choices[0].message.content or ""


@pytest.mark.parametrize(("detection", "redacted"), [(True, True), (False, False)])
def test_pii_detection_turns_the_reply_scan_on_and_off(
    fake: FakeProvider, detection: bool, redacted: bool
) -> None:
    email = fake_data.unique.email()
    client = client_for(fake.base_url)

    @ic.protect_agent(budget=50.0, pii_detection=detection, circuit_breaker=True, ic_token=None)
    def agent() -> str:
        fake.script_reply(f"write to {email}")
        return reply(client)

    assert agent() == ("write to [EMAIL_REDACTED]" if redacted else f"write to {email}")


def test_pii_detection_keeps_an_explicit_mode(fake: FakeProvider) -> None:
    client = client_for(fake.base_url)
    with ic.AgentRuntime(budget=1.0, safety_mode="block", pii_detection=True):
        fake.script_reply(f"write to {fake_data.unique.email()}")
        with pytest.raises(ic.PiiBlockedError):
            reply(client)
    with pytest.raises(ic.ConfigError, match="True or False"):
        ic.AgentRuntime(pii_detection="yes")  # type: ignore[arg-type]


def test_breaker_settings_turn_it_on_with_them(fake: FakeProvider) -> None:
    client = client_for(fake.base_url)
    with ic.AgentRuntime(budget=1.0, circuit_breaker={"failure_threshold": 2, "cooldown_s": 30}) as rt:
        fake.fail_next(500, times=2)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                reply(client)
        before = fake.request_count
        with pytest.raises(ic.CircuitOpenError):
            reply(client)
        assert fake.request_count == before  # open after two failures: nothing sent
        assert rt.metrics()["breakers"], rt.metrics()
    for bad, says in (
        ({"threshold": 2}, "unknown threshold"),
        ({"failure_threshold": 0}, ">= 1"),
        ("on", "True"),
    ):
        with pytest.raises(ic.ConfigError, match=says):
            ic.AgentRuntime(circuit_breaker=bad)  # type: ignore[arg-type]


def test_ic_token_leases_from_the_control_panel_in_the_environment(
    fake: FakeProvider,
    panel: tuple[EmbeddedControlPanel, ControlPanelClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cp, c = panel
    agent = c.create_agent("spec-agent", budget_usd=2.0)
    token = c.create_token(agent.id).token
    monkeypatch.setenv("IRON_CAGE_CONTROL_PANEL", cp.url)
    monkeypatch.setenv("IRON_CAGE_OUTBOX_DIR", str(tmp_path / "outbox"))
    client = client_for(fake.base_url)

    @ic.protect_agent(budget=0.5, pii_detection=True, ic_token=token)
    def run() -> float:
        reply(client)
        rt = ic.library.current_runtime()
        assert rt is not None and rt.lease is not None
        return rt.spent_usd

    spent = run()
    assert spent > 0
    assert c.usage_summary().requests == 1
    assert any(lease.agent_id == agent.id for lease in c.list_leases(agent_id=agent.id))


def test_the_router_takes_the_same_control_panel_arguments(
    fake: FakeProvider, panel: tuple[EmbeddedControlPanel, ControlPanelClient], tmp_path: Path
) -> None:
    cp, c = panel
    agent = c.create_agent("spec-router", budget_usd=2.0)
    token = c.create_token(agent.id).token
    with ic.LlmRouter(
        budget=0.5,
        control_panel=cp.url,
        ic_token=token,
        upstream=fake.base_url,
        provider_key="k",
        outbox_path=tmp_path / "router-outbox.db",
    ) as router:
        assert router.api_key == token
        client = client_for(router.base_url, router.api_key)
        reply(client)
        client.close()
    assert c.usage_summary().requests == 1
    with pytest.raises(ic.ConfigError, match="same setting"):
        ic.LlmRouter(control_panel=cp.url, server_url="http://127.0.0.1:1", ic_token=token)


def test_iron_cage_chain_wraps_an_llm_and_runs_a_prompt(fake: FakeProvider) -> None:
    email = fake_data.unique.email()
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=fake.base_url, api_key="k", max_retries=0)  # type: ignore[arg-type]
    chain = IronCageChain(llm=llm, budget=1.0)
    fake.script_reply(f"mail {email}")
    assert chain.run("hello") == "mail [EMAIL_REDACTED]"
    assert chain.runtime.spent_usd > 0
    with pytest.raises(ic.ConfigError, match="one runnable"):
        IronCageChain()
