"""PII and credentials in what a request sends: the real OpenAI and Anthropic
clients, in library mode and router mode, against a FakeProvider whose request
log shows exactly what reached the provider."""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from faker import Faker

import iron_cage as ic
from iron_cage.client import ControlPanelClient
from iron_cage.control_panel import Settings
from iron_cage.control_panel.embedded import EmbeddedControlPanel
from iron_cage.testing import FakeProvider

fake_data = Faker()
Faker.seed(20261206)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def sent_since(fake: FakeProvider, before: int) -> list[dict[str, Any]]:
    """The bodies the provider received after request number ``before``."""
    return [r["body"] for r in fake.requests() if r["n"] > before]


def api_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "sk-proj-" + "".join(secrets.choice(alphabet) for _ in range(48))


def private_key_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


def events(rt: Any, kind: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    rt.on_event(lambda e: seen.append(e) if e["type"] == kind else None)
    return seen


def openai_client(base_url: str, key: str = "k") -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


# --- library mode -----------------------------------------------------------


def test_values_leave_as_placeholders_and_come_back_in_the_reply(fake: FakeProvider) -> None:
    email, name_phone = fake_data.email(), "+1 415 555 0134"
    client = openai_client(fake.base_url)
    before = fake.request_count
    with ic.AgentRuntime(budget=1.0) as rt:
        detected = events(rt, "pii_detected")
        calls = events(rt, "llm_call")
        reply = client.chat.completions.create(
            model="gpt-4o-mini",
            max_tokens=40,
            messages=[{"role": "user", "content": f"Mail {email} or call {name_phone} today please"}],
        )
    (body,) = sent_since(fake, before)
    sent = body["messages"][0]["content"]
    assert email not in json.dumps(body) and "555 0134" not in json.dumps(body)
    assert "<EMAIL_1>" in sent and "<PHONE_1>" in sent
    # The fake quotes the prompt's first words back: the agent reads its own values.
    text = reply.choices[0].message.content or ""
    assert email in text and "<EMAIL_1>" not in text
    egress = [e for e in detected if e.get("direction") == "egress"]
    assert {e["entity"] for e in egress} == {"EMAIL", "PHONE"}
    assert all(e["action"] == "pseudonymized" for e in egress)
    assert email not in json.dumps(detected) + json.dumps(calls)
    assert calls[0]["egress_findings"] == 2


def test_placeholders_are_stable_per_value_for_the_life_of_the_runtime(fake: FakeProvider) -> None:
    first, second = fake_data.unique.email(), fake_data.unique.email()
    client = openai_client(fake.base_url)
    before = fake.request_count
    with ic.AgentRuntime(budget=1.0):
        for prompt in (f"a {first}", f"b {second} and {first}", f"c {second}"):
            client.chat.completions.create(
                model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": prompt}]
            )
    texts = [b["messages"][0]["content"] for b in sent_since(fake, before)]
    assert texts == ["a <EMAIL_1>", "b <EMAIL_2> and <EMAIL_1>", "c <EMAIL_2>"]


def test_every_field_a_request_sends_is_scanned(fake: FakeProvider) -> None:
    values = [fake_data.unique.email() for _ in range(6)]
    client = openai_client(fake.base_url)
    before = fake.request_count
    messages: list[Any] = [
        {"role": "system", "content": f"Support for {values[0]}."},
        {"role": "developer", "content": [{"type": "text", "text": f"cc {values[1]}"}]},
        {"role": "user", "content": [{"type": "text", "text": f"I am {values[2]}"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": json.dumps({"email": values[3]})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"found {values[4]}"},
    ]
    with ic.AgentRuntime(budget=1.0):
        client.chat.completions.create(model="gpt-4o-mini", max_tokens=5, messages=messages)
        client.responses.create(
            model="gpt-4o-mini",
            max_output_tokens=16,
            instructions=f"Answer {values[5]}",
            input=[{"role": "user", "content": [{"type": "input_text", "text": f"from {values[0]}"}]}],
        )
    chat, responses = sent_since(fake, before)
    for body in (chat, responses):
        dumped = json.dumps(body)
        assert not [v for v in values if v in dumped], dumped
    args = json.loads(chat["messages"][3]["tool_calls"][0]["function"]["arguments"])
    assert args == {"email": "<EMAIL_4>"}
    # The same value is the same placeholder across endpoints.
    assert "<EMAIL_1>" in json.dumps(responses["input"])


def test_anthropic_system_and_tool_results_are_scanned(fake: FakeProvider) -> None:
    email, other = fake_data.unique.email(), fake_data.unique.email()
    client = anthropic.Anthropic(base_url=fake.base_url.removesuffix("/v1"), api_key="k", max_retries=0)
    before = fake.request_count
    with ic.AgentRuntime(budget=1.0):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=20,
            system=[{"type": "text", "text": f"Owner: {email}"}],
            messages=[
                {"role": "user", "content": "who owns it?"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "owner", "input": {"q": other}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": other}],
                        }
                    ],
                },
            ],
        )
    (body,) = sent_since(fake, before)
    dumped = json.dumps(body)
    assert email not in dumped and other not in dumped
    owner = body["system"][0]["text"].removeprefix("Owner: ")
    asked = body["messages"][1]["content"][0]["input"]["q"]
    answered = body["messages"][2]["content"][0]["content"][0]["text"]
    assert {owner, asked} == {"<EMAIL_1>", "<EMAIL_2>"} and answered == asked


@pytest.mark.parametrize("secret", [api_key, private_key_pem], ids=["api_key", "private_key"])
def test_credentials_are_refused_unsent_and_uncharged(fake: FakeProvider, secret: Any) -> None:
    value = secret()
    client = openai_client(fake.base_url)
    before = fake.request_count
    with ic.AgentRuntime(budget=1.0) as rt:
        with pytest.raises(ic.PiiBlockedError) as info:
            client.chat.completions.create(
                model="gpt-4o-mini",
                max_tokens=5,
                messages=[{"role": "user", "content": f"deploy with\n{value}\nthanks"}],
            )
        assert rt.spent_usd == 0
        assert rt.remaining_usd == 1.0  # nothing left reserved
    assert fake.request_count == before
    message = str(info.value)
    assert "API_KEY" in message and "nothing was sent" in message
    assert value not in message and value[:20] not in repr(info.value.findings)
    assert [f.entity for f in info.value.findings] == ["API_KEY"]


@pytest.mark.parametrize(
    ("policy", "expect"),
    [
        ("off", "value"),
        ("allow", "value"),
        ("warn", "value"),
        ("redact", "[EMAIL_REDACTED]"),
        ("pseudonymize", "<EMAIL_1>"),
        ({"EMAIL": "redact"}, "[EMAIL_REDACTED]"),
        ({"EMAIL": "allow", "default": "block"}, "value"),
    ],
)
def test_each_action(fake: FakeProvider, policy: Any, expect: str) -> None:
    email = fake_data.unique.email()
    client = openai_client(fake.base_url)
    before = fake.request_count
    with ic.AgentRuntime(budget=1.0, egress=policy) as rt:
        detected = events(rt, "pii_detected")
        client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": f"to {email}"}]
        )
    (body,) = sent_since(fake, before)
    assert body["messages"][0]["content"] == "to " + (email if expect == "value" else expect)
    egress = [e for e in detected if e.get("direction") == "egress"]
    if policy in ("off",) or policy == {"EMAIL": "allow", "default": "block"} or policy == "allow":
        assert egress == []
    else:
        assert [e["entity"] for e in egress] == ["EMAIL"]


def test_block_for_one_entity(fake: FakeProvider) -> None:
    client = openai_client(fake.base_url)
    before = fake.request_count
    card = fake_data.credit_card_number(card_type="visa16")
    with ic.AgentRuntime(budget=1.0, egress={"CREDIT_CARD": "block"}):
        client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "no card here"}]
        )
        with pytest.raises(ic.PiiBlockedError, match="CREDIT_CARD"):
            client.chat.completions.create(
                model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": f"pay {card}"}]
            )
    assert fake.request_count == before + 1


@pytest.mark.parametrize("bad", ["scramble", {"EMAIL": "hide"}])
def test_a_bad_policy_says_what_is_accepted(bad: Any) -> None:
    with pytest.raises(ic.ConfigError, match="pseudonymize"):
        ic.AgentRuntime(egress=bad)


def test_streamed_replies_are_restored_across_chunks(fake: FakeProvider) -> None:
    email = fake_data.unique.email()
    client = openai_client(fake.base_url)
    fake.set_chunk_chars(3)  # every placeholder arrives split over several chunks
    try:
        with ic.AgentRuntime(budget=1.0):
            stream = client.chat.completions.create(
                model="gpt-4o-mini",
                max_tokens=40,
                stream=True,
                messages=[{"role": "user", "content": f"{email} wrote in"}],
            )
            pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    finally:
        fake.set_chunk_chars(4)
    text = "".join(pieces)
    assert email in text and "<EMAIL" not in text


def test_the_budget_charges_what_was_sent(fake: FakeProvider) -> None:
    # A long value becomes a short placeholder: the call is priced on the request as sent.
    values = " ".join(fake_data.unique.email() for _ in range(40))
    client = openai_client(fake.base_url)
    with ic.AgentRuntime(budget=1.0) as rt:
        calls = events(rt, "llm_call")
        reply = client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": values}]
        )
        assert reply.usage is not None
        billed = ic.cost_of(
            "gpt-4o-mini",
            {"prompt_tokens": reply.usage.prompt_tokens, "completion_tokens": reply.usage.completion_tokens},
        )
        (call,) = calls
        assert call["input_tokens"] == reply.usage.prompt_tokens
        assert rt.spent_usd == pytest.approx(billed)
        assert call["cost_usd"] <= call["reserved_usd"]
    with ic.AgentRuntime(budget=1.0, egress="off"):
        raw = client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": values}]
        )
    assert raw.usage is not None and raw.usage.prompt_tokens > reply.usage.prompt_tokens


# --- router mode ------------------------------------------------------------


def test_router_sends_placeholders_and_restores_them(fake: FakeProvider) -> None:
    email = fake_data.unique.email()
    before = fake.request_count
    with ic.LlmRouter(budget=1.0, provider_key="k", upstream=fake.base_url) as router:
        client = openai_client(router.base_url, router.api_key)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=40, messages=[{"role": "user", "content": f"{email} here"}]
        )
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            max_tokens=40,
            stream=True,
            messages=[{"role": "user", "content": f"{email} again"}],
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        client.close()
    bodies = sent_since(fake, before)
    assert [b["messages"][0]["content"] for b in bodies] == ["<EMAIL_1> here", "<EMAIL_1> again"]
    assert email in (reply.choices[0].message.content or "")
    assert email in streamed and "<EMAIL" not in streamed


def test_router_refuses_credentials_with_422(fake: FakeProvider) -> None:
    before = fake.request_count
    with ic.LlmRouter(budget=1.0, provider_key="k", upstream=fake.base_url) as router:
        client = openai_client(router.base_url, router.api_key)
        key = api_key()
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(
                model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": f"use {key}"}]
            )
        client.close()
        assert router.total_spent() == 0
    assert fake.request_count == before
    assert info.value.status_code == 422
    body = info.value.response.json()
    assert body["error"]["code"] == "pii_blocked"
    assert key not in info.value.response.text


def test_router_anthropic_route_is_scanned(fake: FakeProvider) -> None:
    email = fake_data.unique.email()
    before = fake.request_count
    with ic.LlmRouter(budget=1.0, provider_key="k", upstream=fake.base_url) as router:
        client = anthropic.Anthropic(
            base_url=router.base_url.removesuffix("/v1"), api_key=router.api_key, max_retries=0
        )
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=20,
            system=f"for {email}",
            messages=[{"role": "user", "content": f"{email} asks"}],
        )
        client.close()
    (body,) = sent_since(fake, before)
    assert email not in json.dumps(body)
    assert body["system"] == "for <EMAIL_1>"


# --- reported to the Control Panel -------------------------------------------


def test_request_findings_reach_the_control_panel_audit(fake: FakeProvider, tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cp.db'}",
        master_key="test-master-key-0123456789abcdef",
        admin_email="admin@example.com",
        admin_password="correct horse battery staple",
    )
    email, other = fake_data.unique.email(), fake_data.unique.email()
    with (
        EmbeddedControlPanel(settings) as cp,
        ControlPanelClient(cp.url, email="admin@example.com", password="correct horse battery staple") as c,
    ):
        agent = c.create_agent("egress-audit", budget_usd=5.0)
        token = c.create_token(agent.id).token
        client = openai_client(fake.base_url)
        fake.script_reply(f"Noted, I will also copy {other}.")
        with ic.AgentRuntime(
            budget=1.0, control_panel=cp.url, ic_token=token, outbox_path=tmp_path / "outbox.db"
        ):
            client.chat.completions.create(
                model="gpt-4o-mini", max_tokens=40, messages=[{"role": "user", "content": f"mail {email}"}]
            )
        rows = c.pii_findings(agent_id=agent.id)
        assert sorted((r.entity, r.direction, r.action) for r in rows) == [
            ("EMAIL", "reply", None),
            ("EMAIL", "request", "pseudonymized"),
        ]
        sent = next(r for r in rows if r.direction == "request")
        assert (sent.start, sent.end) == (5, 5 + len(email))
        (trace,) = c.traces(agent_id=agent.id)
        assert trace.pii_findings == 1  # the reply's
        stored = (tmp_path / "cp.db").read_bytes()
        assert email.encode() not in stored and other.encode() not in stored


def test_the_control_panel_policy_is_a_floor_the_agent_cannot_lower(
    fake: FakeProvider, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cp.db'}",
        master_key="test-master-key-0123456789abcdef",
        admin_email="admin@example.com",
        admin_password="correct horse battery staple",
    )
    email, iban = fake_data.unique.email(), fake_data.iban()
    prompt = f"mail {email} about account {iban}"
    with (
        EmbeddedControlPanel(settings) as cp,
        ControlPanelClient(cp.url, email="admin@example.com", password="correct horse battery staple") as c,
    ):
        dev = c.create_user("dev-floor@example.com", name="Dev", role="developer").user
        agent = c.create_agent("egress-floor", budget_usd=5.0, owner_id=dev.id)
        token = c.create_token(agent.id).token
        # The developer's floor redacts everything; the agent's own blocks e-mail.
        c.set_user_pii_policy(dev.id, {"default": "redact"})
        shown = c.set_agent_pii_policy(agent.id, {"email": "block"})
        assert shown.effective.egress == {"EMAIL": "block", "default": "redact"}
        client = openai_client(fake.base_url)
        # The agent turned request scanning off and replies are not scanned: the floor still applies.
        with ic.AgentRuntime(
            budget=1.0,
            control_panel=cp.url,
            ic_token=token,
            outbox_path=tmp_path / "outbox.db",
            egress="off",
            safety_mode="off",
        ):
            before = len(fake.requests())
            with pytest.raises(ic.PiiBlockedError, match="EMAIL"):
                client.chat.completions.create(
                    model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": prompt}]
                )
            assert sent_since(fake, before) == []
            c.set_agent_pii_policy(agent.id, None)
            fake.script_reply("Done.")
            # The next lease answer (a poll, every ~5 s) brings the developer's floor alone.
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.chat.completions.create(
                        model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": prompt}]
                    )
                    break
                except ic.PiiBlockedError:
                    assert time.monotonic() < deadline, "the changed policy never reached the runtime"
                    time.sleep(0.5)
            (body,) = sent_since(fake, before)
            sent = body["messages"][0]["content"]
            assert sent == "mail [EMAIL_REDACTED] about account [IBAN_REDACTED]"
        rows = c.pii_findings(agent_id=agent.id, direction="request")
        assert sorted((r.entity, r.action) for r in rows) == [("EMAIL", "redacted"), ("IBAN", "redacted")]
