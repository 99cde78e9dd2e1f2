"""A PII action per entity for replies (``ingress``): over ``safety_mode``, in whole and streamed
replies, library and router mode, and as a floor from the Control Panel; the real openai and
anthropic clients against FakeProvider."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from faker import Faker

import iron_cage as ic
from iron_cage.client import ControlPanelClient
from iron_cage.control_panel import Settings
from iron_cage.control_panel.embedded import EmbeddedControlPanel
from iron_cage.testing import FakeProvider

fake_data = Faker()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def openai_client(base_url: str, key: str = "k") -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


def pii_events(rt: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    rt.on_event(lambda e: seen.append(e) if e["type"] == "pii_detected" else None)
    return seen


def reply_values() -> tuple[str, str, str]:
    return fake_data.unique.email(), fake_data.credit_card_number(card_type="visa16"), fake_data.ipv4_public()


def ask(client: openai.OpenAI, *, stream: bool = False) -> str:
    if not stream:
        r = client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=80, messages=[{"role": "user", "content": "contact card?"}]
        )
        return r.choices[0].message.content or ""
    chunks = client.chat.completions.create(
        model="gpt-4o-mini",
        max_tokens=80,
        stream=True,
        messages=[{"role": "user", "content": "contact card?"}],
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_each_entity_gets_its_own_action_over_the_safety_mode(fake: FakeProvider, stream: bool) -> None:
    email, card, ip = reply_values()
    client = openai_client(fake.base_url)
    fake.set_chunk_chars(3)  # values arrive split over many chunks
    try:
        with ic.AgentRuntime(budget=1.0, ingress={"EMAIL": "allow", "IP_ADDRESS": "warn"}) as rt:
            seen = pii_events(rt)
            fake.script_reply(f"Write to {email} from {ip}; card {card}.")
            text = ask(client, stream=stream)
    finally:
        fake.set_chunk_chars(4)
    # e-mail allowed (no event), the address warned (left, reported), the card redacted (safety_mode).
    assert text == f"Write to {email} from {ip}; card [CREDIT_CARD_REDACTED]."
    replies = [e for e in seen if e.get("direction") != "egress"]
    assert sorted((e["entity"], e["action"]) for e in replies) == [
        ("CREDIT_CARD", "redacted"),
        ("IP_ADDRESS", "warn"),
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_one_entity_blocks_a_reply_that_warn_mode_lets_through(fake: FakeProvider, stream: bool) -> None:
    email, card, _ = reply_values()
    client = openai_client(fake.base_url)
    with ic.AgentRuntime(budget=1.0, safety_mode="warn", ingress={"CREDIT_CARD": "block"}) as rt:
        fake.script_reply(f"Reach {email}.")
        assert ask(client, stream=stream) == f"Reach {email}."
        fake.script_reply(f"The card is {card}.")
        with pytest.raises(ic.PiiBlockedError, match="CREDIT_CARD"):
            ask(client, stream=stream)
        assert rt.spent_usd > 0  # the provider billed the refused reply: it is charged


def test_with_safety_mode_off_only_the_named_entities_are_acted_on(fake: FakeProvider) -> None:
    email, card, _ = reply_values()
    client = openai_client(fake.base_url)
    with ic.AgentRuntime(budget=1.0, safety_mode="off", ingress={"CREDIT_CARD": "redact"}):
        fake.script_reply(f"{email} paid with {card}")
        assert ask(client) == f"{email} paid with [CREDIT_CARD_REDACTED]"


def test_the_router_applies_it_to_both_apis(fake: FakeProvider) -> None:
    email, card, _ = reply_values()
    with ic.LlmRouter(
        budget=1.0, provider_key="k", upstream=fake.base_url, ingress={"EMAIL": "allow"}
    ) as router:
        client = openai_client(router.base_url, router.api_key)
        fake.script_reply(f"{email} / {card}")
        assert ask(client) == f"{email} / [CREDIT_CARD_REDACTED]"
        client.close()
        claude = anthropic.Anthropic(
            base_url=router.base_url.removesuffix("/v1"), api_key=router.api_key, max_retries=0
        )
        fake.script_reply(f"{email} / {card}")
        reply = claude.messages.create(
            model="claude-haiku-4-5", max_tokens=80, messages=[{"role": "user", "content": "card?"}]
        )
        claude.close()
    block = reply.content[0]
    assert block.type == "text" and block.text == f"{email} / [CREDIT_CARD_REDACTED]"


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"EMAIL": "pseudonymize"}, "requests only"),
        ({"EMAIL": "shred"}, "allow, warn, redact, block"),
        ("allow", "safety_mode"),
    ],
)
def test_a_bad_reply_policy_says_what_is_accepted(bad: Any, says: str) -> None:
    with pytest.raises(ic.ConfigError, match=says):
        ic.AgentRuntime(ingress=bad)


def test_the_control_panel_reply_policy_is_a_floor(fake: FakeProvider, tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cp.db'}",
        master_key="test-master-key-0123456789abcdef",
        admin_email="admin@example.com",
        admin_password="correct horse battery staple",
    )
    email, card, _ = reply_values()
    with (
        EmbeddedControlPanel(settings) as cp,
        ControlPanelClient(cp.url, email="admin@example.com", password="correct horse battery staple") as c,
    ):
        agent = c.create_agent("ingress-floor", budget_usd=5.0)
        token = c.create_token(agent.id).token
        shown = c.set_agent_pii_policy(agent.id, ingress={"email": "redact"})
        assert shown.effective.ingress == {"EMAIL": "redact"} and shown.effective.egress is None
        client = openai_client(fake.base_url)
        # The agent scans nothing itself and allows e-mail in replies: the floor still redacts it.
        with ic.AgentRuntime(
            budget=1.0,
            control_panel=cp.url,
            ic_token=token,
            outbox_path=tmp_path / "outbox.db",
            safety_mode="off",
            egress="off",
            ingress={"EMAIL": "allow"},
        ):
            fake.script_reply(f"{email} / {card}")
            assert ask(client) == f"[EMAIL_REDACTED] / {card}"
            c.set_agent_pii_policy(agent.id, ingress={"CREDIT_CARD": "block"})
            # The next lease answer (a poll, every ~5 s) brings the new floor.
            deadline = time.monotonic() + 30
            while True:
                fake.script_reply(f"{email} / {card}")
                try:
                    text = ask(client)
                except ic.PiiBlockedError:
                    break
                assert text == f"[EMAIL_REDACTED] / {card}"
                assert time.monotonic() < deadline, "the changed policy never reached the runtime"
                time.sleep(0.5)
            fake.script_reply(f"only {email}")
            assert ask(client) == f"only {email}"
