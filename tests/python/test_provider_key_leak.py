"""The two-token model from the runtime's side: an agent holds only its IC token;
the provider key is sealed to the Rust core at each handshake and refresh, signs
the upstream calls there, and appears in no Python object, log, event, error,
file, environment variable or answer, in router mode and library mode alike.

The runtime runs in its own interpreter, which is never given the key: after a
full run (handshake, calls, lease refreshes, an error, a stream, shutdown) it scans
every str and bytes object it can reach, its events, reprs and errors for the key's
prefix, and the test scans its output and every file it wrote. The key is the one
FakeProvider requires, so a call that succeeds proves the key was applied in Rust."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iron_cage.client import ControlPanelClient
from iron_cage.control_panel import Settings
from iron_cage.control_panel.embedded import EmbeddedControlPanel
from iron_cage.testing import FakeProvider

PREFIX = "sk-proj-CANARY-"
CANARY = PREFIX + "7f3a9c2d" * 4

RUNTIME = r'''
import gc, json, sys
import openai
import iron_cage as ic

cp_url, token, fake_url, prefix, workdir, mode = sys.argv[1:7]
seen, calls = [], 0
msg = [{"role": "user", "content": "hello"}]

def scan_memory():
    """Whether any reachable str or bytes holds more than the prefix itself (the key is longer)."""
    gc.collect()
    raw = prefix.encode()
    for obj in gc.get_objects():
        for ref in (obj, *gc.get_referents(obj)):
            if isinstance(ref, str) and prefix in ref and ref != prefix:
                return repr(ref)[:80]
            if isinstance(ref, (bytes, bytearray)) and raw in ref and bytes(ref) != raw:
                return repr(ref)[:80]
    return False

if mode == "router":
    with ic.LlmRouter(server_url=cp_url, api_key=token, budget=0.002, outbox_path=f"{workdir}/outbox.db",
                      events_path=f"{workdir}/events.jsonl") as router:
        router.on_event(lambda e: seen.append(repr(e)))
        client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
        for _ in range(6):  # small lease slices: each refresh re-seals the key
            client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=msg)
            calls += 1
        try:
            client.chat.completions.create(model="no-such-model", messages=msg)
        except openai.APIStatusError as exc:
            seen += [repr(exc), str(exc.body)]
        stream = client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=msg, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        calls += 1
        seen += [repr(router), repr(router.lease), json.dumps(router.lease.status()), str(router.metrics())]
        seen += [repr(getattr(router, n, None)) for n in dir(router) if not n.startswith("__")]
        seen += [repr(getattr(router.lease, n, None)) for n in dir(router.lease) if not n.startswith("__")]
        held = router.lease.has_provider_key
        client.close()
else:
    # The agent's client carries a placeholder: the key proxy replaces it in Rust.
    client = openai.OpenAI(base_url=fake_url, api_key="placeholder", max_retries=0)
    with ic.AgentRuntime(budget=0.002, control_panel=cp_url, ic_token=token,
                         outbox_path=f"{workdir}/outbox.db") as rt:
        rt.on_event(lambda e: seen.append(repr(e)))
        for _ in range(6):
            client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=msg)
            calls += 1
        stream = client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=msg, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        calls += 1
        seen += [repr(rt), repr(rt.lease), json.dumps(rt.lease.status()), str(rt.metrics())]
        seen.append(repr(rt._key_proxy))
        seen += [repr(getattr(rt, n, None)) for n in dir(rt) if not n.startswith("__")]
        held = rt.lease.has_provider_key
        assert rt.metrics()["calls"] == calls
    client.close()
print(json.dumps({"calls": calls, "held": held, "in_memory": scan_memory(),
                  "in_seen": any(prefix in s for s in seen)}))
'''


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[EmbeddedControlPanel, FakeProvider, str]]:
    """A Control Panel holding the key for a provider that FakeProvider serves."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cp.db'}",
        master_key="test-master-key-0123456789abcdef",
        admin_email="admin@example.com",
        admin_password="correct horse battery staple",
    )
    with FakeProvider(api_key=CANARY) as fake, EmbeddedControlPanel(settings) as cp:
        with ControlPanelClient(
            cp.url, email="admin@example.com", password="correct horse battery staple"
        ) as c:
            c.add_provider_key("openai", CANARY, label="leak-test", base_url=fake.base_url)
            agent = c.create_agent("leaky", budget_usd=5.0)
            token = c.create_token(agent.id).token
        yield cp, fake, token


@pytest.mark.parametrize("mode", ["router", "library"])
def test_the_provider_key_is_signed_in_rust_and_leaks_nowhere(
    world: tuple[EmbeddedControlPanel, FakeProvider, str], tmp_path: Path, mode: str
) -> None:
    cp, fake, token = world
    work = tmp_path / "runtime"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if PREFIX not in v}
    env["IRON_CAGE_HOME"] = str(work / "home")
    out = subprocess.run(
        [sys.executable, "-c", RUNTIME, cp.url, token, fake.base_url, PREFIX, str(work), mode],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["held"], "the Control Panel released the key, sealed"
    # Every call reached FakeProvider with the real key: it answers 401 to any other.
    assert fake.request_count == result["calls"] >= 7
    assert all(r["authorization"] == f"Bearer {CANARY}" for r in fake.requests())
    assert not result["in_memory"], "a Python object in the runtime holds the provider key"
    assert not result["in_seen"], "an event, repr, error or status holds the provider key"
    assert PREFIX not in out.stdout + out.stderr
    written = [f for f in work.rglob("*") if f.is_file()]
    assert written, "the runtime wrote its outbox (and, in router mode, its events)"
    for f in written:
        assert CANARY.encode() not in f.read_bytes(), f"{f} holds the provider key"
