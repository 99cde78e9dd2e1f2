"""Router mode with the real openai and anthropic clients against FakeProvider."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

import iron_cage as ic
from iron_cage.testing import FakeProvider

PII_REPLY = "Write to jane.roe@example.com or call (415) 555-2671; card 4111 1111 1111 1111."


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def make_router(fake: FakeProvider, **kw: Any) -> ic.LlmRouter:
    kw.setdefault("budget", 1.0)
    return ic.LlmRouter(upstream=fake.base_url, provider_key="provider-secret", **kw)


_clients: list[openai.OpenAI | anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def oa(router: ic.LlmRouter) -> openai.OpenAI:
    client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
    _clients.append(client)
    return client


def an(router: ic.LlmRouter) -> anthropic.Anthropic:
    client = anthropic.Anthropic(
        base_url=router.base_url.removesuffix("/v1"), api_key=router.api_key, max_retries=0
    )
    _clients.append(client)
    return client


def chat_text(stream: Any, into: list[str] | None = None) -> str:
    """Concatenates a chat stream's content deltas (also into ``into`` as they arrive)."""
    parts = [] if into is None else into
    for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
    return "".join(parts)


def usage_dict(usage: Any) -> dict[str, Any]:
    return usage.model_dump(exclude_none=True)  # type: ignore[no-any-return]


def test_plain_and_streamed_chat_are_charged_exactly(fake: FakeProvider) -> None:
    fake.set_cached_tokens(4)
    with make_router(fake) as router:
        client = oa(router)
        r = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello there"}]
        )
        expected = ic.cost_of("gpt-4o", usage_dict(r.usage))
        assert expected > 0
        assert router.total_spent() == pytest.approx(expected, abs=1e-9)
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "stream please"}], stream=True
            )
        )
        usage_chunks = [c for c in chunks if c.usage is not None]
        assert len(usage_chunks) == 1, "the router asks for usage and passes the final chunk on"
        expected += ic.cost_of("gpt-4o", usage_dict(usage_chunks[0].usage))
        assert router.total_spent() == pytest.approx(expected, abs=1e-9)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.startswith("Reply 2 from gpt-4o")
        sent = fake.requests()
        assert sent[1]["body"]["stream_options"] == {"include_usage": True}
        assert {s["authorization"] for s in sent} == {"Bearer provider-secret"}
        assert router.metrics()["calls"] == 2


def test_reasoning_and_cached_tokens_are_priced(fake: FakeProvider) -> None:
    fake.set_cached_tokens(6)
    with make_router(fake) as router:
        r = oa(router).chat.completions.create(
            model="gpt-5-mini", messages=[{"role": "user", "content": "a b c d e f g"}]
        )
        assert r.usage is not None
        assert r.usage.completion_tokens_details is not None
        assert r.usage.completion_tokens_details.reasoning_tokens == 8
        assert r.usage.prompt_tokens_details is not None
        assert r.usage.prompt_tokens_details.cached_tokens == 6
        assert router.total_spent() == pytest.approx(ic.cost_of("gpt-5-mini", usage_dict(r.usage)), abs=1e-9)


def test_anthropic_plain_and_streamed(fake: FakeProvider) -> None:
    with make_router(fake) as router:
        client = an(router)
        m = client.messages.create(
            model="claude-haiku-4-5", max_tokens=200, messages=[{"role": "user", "content": "hi"}]
        )
        expected = ic.cost_of("claude-haiku-4-5", usage_dict(m.usage))
        with client.messages.stream(
            model="claude-haiku-4-5", max_tokens=200, messages=[{"role": "user", "content": "again"}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text.startswith("Reply 2 from claude-haiku-4-5")
        expected += ic.cost_of("claude-haiku-4-5", usage_dict(final.usage))
        assert router.total_spent() == pytest.approx(expected, abs=1e-9)
        assert fake.requests()[0]["x_api_key"] == "provider-secret"


def test_responses_api_plain_and_streamed(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY, at_request=2)
    with make_router(fake) as router:
        client = oa(router)
        r = client.responses.create(model="gpt-4o-mini", input="hello")
        assert r.output_text.startswith("Reply 1")
        expected = ic.cost_of("gpt-4o-mini", usage_dict(r.usage))
        events = list(client.responses.create(model="gpt-4o-mini", input="again", stream=True))
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        completed = next(e for e in events if e.type == "response.completed")
        assert "jane.roe" not in deltas and "[EMAIL_REDACTED]" in deltas
        assert completed.response.output_text == deltas
        expected += ic.cost_of("gpt-4o-mini", usage_dict(completed.response.usage))
        assert router.total_spent() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("chunk_chars", [1, 2, 3, 5, 7, 64])
def test_pii_split_across_stream_chunks_is_redacted(fake: FakeProvider, chunk_chars: int) -> None:
    fake.set_chunk_chars(chunk_chars)
    fake.script_reply(PII_REPLY)
    with make_router(fake) as router:
        text = chat_text(
            oa(router).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "contact?"}], stream=True
            )
        )
    assert text == ic.PiiScanner().scan(PII_REPLY).text
    assert "jane.roe" not in text and "555-2671" not in text and "4111" not in text


def test_anthropic_stream_pii_is_redacted(fake: FakeProvider) -> None:
    fake.set_chunk_chars(3)
    fake.script_reply(PII_REPLY)
    with (
        make_router(fake) as router,
        an(router).messages.stream(
            model="claude-haiku-4-5", max_tokens=300, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        text = "".join(stream.text_stream)
    assert text == ic.PiiScanner().scan(PII_REPLY).text


def test_plain_reply_pii_redacted_and_events_carry_no_plaintext(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY)
    events: list[dict[str, Any]] = []
    with make_router(fake) as router:
        router.on_event(events.append)
        r = oa(router).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
        assert r.choices[0].message.content == ic.PiiScanner().scan(PII_REPLY).text
    kinds = [e["type"] for e in events]
    assert kinds.count("pii_detected") == 3 and "llm_call" in kinds
    dumped = json.dumps(events)
    assert "jane.roe" not in dumped and "4111" not in dumped
    assert all(len(e["value_hmac"]) == 64 for e in events if e["type"] == "pii_detected")


def test_block_mode_returns_nothing(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY, at_request=1)
    fake.script_reply(PII_REPLY, at_request=2)
    with make_router(fake, safety_mode="block") as router:
        client = oa(router)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        assert info.value.status_code == 422
        assert info.value.code == "pii_blocked"
        assert "jane.roe" not in str(info.value.body)
        received: list[str] = []
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
        )
        with pytest.raises(openai.APIError, match=r"EMAIL"):
            chat_text(stream, received)
        assert "jane.roe" not in "".join(received)
        assert router.total_spent() > 0, "blocked replies were still billed by the provider"


def test_budget_exhaustion_is_402_before_the_upstream(fake: FakeProvider) -> None:
    with make_router(fake, budget=0.00001) as router:
        with pytest.raises(openai.APIStatusError) as info:
            oa(router).chat.completions.create(
                model="gpt-4o", max_tokens=1000, messages=[{"role": "user", "content": "hi"}]
            )
        assert info.value.status_code == 402
        assert info.value.code == "budget_exceeded"
        with pytest.raises(anthropic.APIStatusError) as ainfo:
            an(router).messages.create(
                model="claude-haiku-4-5", max_tokens=10000, messages=[{"role": "user", "content": "hi"}]
            )
        assert ainfo.value.status_code == 402
        assert fake.request_count == 0
        assert router.total_spent() == 0


def test_uncapped_request_is_capped_at_what_the_budget_pays(fake: FakeProvider) -> None:
    with make_router(fake, budget=0.002) as router:
        oa(router).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    cap = fake.requests()[0]["body"]["max_completion_tokens"]
    # gpt-4o output is $10 per 1M tokens: $0.002 pays for under 200 tokens.
    assert 100 < cap < 200


def test_fifty_threads_never_overspend(fake: FakeProvider) -> None:
    ok: list[float] = []
    refused: list[int] = []
    other: list[BaseException] = []
    lock = threading.Lock()
    with make_router(fake, budget=1.0) as router:

        def worker() -> None:
            client = oa(router)
            for _ in range(20):
                try:
                    r = client.chat.completions.create(
                        model="gpt-4", messages=[{"role": "user", "content": "go"}]
                    )
                    with lock:
                        ok.append(ic.cost_of("gpt-4", usage_dict(r.usage)))
                except openai.APIStatusError as e:
                    with lock:
                        (refused.append(e.status_code) if e.code == "budget_exceeded" else other.append(e))
                except BaseException as e:  # pragma: no cover - reported below
                    with lock:
                        other.append(e)

        threads = [threading.Thread(target=worker) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        spent = router.total_spent()
    assert not other, other[:3]
    assert len(ok) + len(refused) == 1000
    assert ok and refused, "the budget must run out part-way"
    assert set(refused) == {402}
    assert spent <= 1.0
    assert spent == pytest.approx(sum(ok), abs=1e-6)
    assert fake.request_count == len(ok)


def test_breaker_opens_after_five_503s(fake: FakeProvider) -> None:
    fake.fail_next(503, times=10)
    with make_router(fake) as router:
        client = oa(router)
        for _ in range(5):
            with pytest.raises(openai.InternalServerError) as failed:
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
                )
            assert failed.value.status_code == 503
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        assert info.value.code == "circuit_open"
        assert int(info.value.response.headers["retry-after"]) >= 1
        assert fake.request_count == 5
        assert router.total_spent() == 0


def test_aborted_stream_is_charged_for_what_was_emitted(fake: FakeProvider) -> None:
    fake.disconnect_next(after_chunks=8)
    with make_router(fake) as router:
        stream = oa(router).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
        )
        with pytest.raises(openai.APIConnectionError):
            chat_text(stream)
        spent = router.total_spent()
    assert spent > 0, "tokens already emitted are charged"
    prompt = ic.count_tokens("gpt-4o-mini", [{"role": "user", "content": "x"}])
    worst = ic.cost_of("gpt-4o-mini", {"prompt_tokens": prompt, "completion_tokens": 8 * 2})
    assert spent <= worst


def raw_post(url: str, body: bytes, key: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, headers={"Authorization": f"Bearer {key}"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_bad_input_gets_clean_errors_and_charges_nothing(fake: FakeProvider) -> None:
    with make_router(fake, max_body_bytes=2000) as router:
        url = router.base_url + "/chat/completions"
        status, body = raw_post(url, b"{not json", router.api_key)
        assert (status, body["error"]["code"]) == (400, "invalid_request")
        assert "not valid JSON" in body["error"]["message"]
        status, body = raw_post(
            url, json.dumps({"model": "gpt-9-imaginary", "messages": []}).encode(), router.api_key
        )
        assert (status, body["error"]["code"]) == (400, "unknown_model")
        assert "IRON_CAGE_PRICES" in body["error"]["message"]
        big = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
        status, body = raw_post(url, big, router.api_key)
        assert (status, body["error"]["code"]) == (413, "request_too_large")
        status, body = raw_post(url, b"{}", "wrong-key")
        assert (status, body["error"]["code"]) == (401, "invalid_api_key")
        assert router.total_spent() == 0
    assert fake.request_count == 0


def test_unreachable_upstream_is_502_and_charges_nothing() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ic.LlmRouter(budget=1.0, upstream=f"http://127.0.0.1:{port}/v1", provider_key="k") as router:
        with pytest.raises(openai.APIStatusError) as info:
            oa(router).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
            )
        assert info.value.status_code == 502
        assert info.value.code == "upstream_unavailable"
        assert router.total_spent() == 0
        assert router.metrics()["reserved_usd"] == 0


def test_overhead_header_and_status(fake: FakeProvider) -> None:
    with make_router(fake) as router:
        raw = oa(router).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
        assert int(raw.headers["x-iron-cage-overhead-us"]) >= 0
        assert router.is_running
        assert router.budget_status == (router.total_spent(), 1.0)
        router.set_budget(2.5)
        assert router.budget == 2.5
    assert not router.is_running


def test_lease_mode_is_not_available_yet() -> None:
    with pytest.raises(ic.ControlPanelError, match="cannot reach the Control Panel"):
        ic.LlmRouter(server_url="http://127.0.0.1:1", api_key="ic_token", outbox_path=":memory:")
    with pytest.raises(ic.ConfigError, match="safety_mode"):
        ic.LlmRouter(safety_mode="loud")


def test_cli_fake_provider_serves_until_interrupted() -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "iron_cage", "fake-provider", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.split(" at ", 1)[1].split(";", 1)[0]
        status, body = raw_post(
            base_url + "/chat/completions",
            json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode(),
            "any",
        )
        assert status == 200
        assert body["usage"]["prompt_tokens"] == ic.count_tokens(
            "gpt-4o-mini", [{"role": "user", "content": "hi"}]
        )
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()


def test_shared_budget_and_threshold_event_fires_once(fake: FakeProvider) -> None:
    budget = ic.Budget(0.01)
    events: list[dict[str, Any]] = []
    with make_router(fake, budget=budget) as router:
        router.on_event(events.append)
        client = oa(router)
        codes: list[str | None] = []
        for _ in range(40):
            try:
                client.chat.completions.create(
                    model="gpt-4", max_tokens=4, messages=[{"role": "user", "content": "go"}]
                )
            except openai.APIStatusError as e:
                codes.append(e.code)
                break
        assert codes == ["budget_exceeded"]
        assert budget.spent_usd == router.total_spent() > 0.009
        assert budget.spent_usd <= 0.01
    crossings = [e for e in events if e["type"] == "budget_threshold"]
    assert len(crossings) == 1
    assert crossings[0]["threshold"] == 0.9
    assert [e["type"] for e in events].count("llm_refused") == 1


def test_openai_client_reaches_claude_through_translation(fake: FakeProvider) -> None:
    fake.script_reply(PII_REPLY, at_request=2)
    with make_router(fake) as router:
        client = oa(router)
        r = client.chat.completions.create(
            model="claude-haiku-4-5",
            max_tokens=300,
            stop=["END"],
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
        )
        assert (r.choices[0].message.content or "").startswith("Reply 1 from claude-haiku-4-5")
        assert r.choices[0].finish_reason == "stop"
        expected = ic.cost_of("claude-haiku-4-5", usage_dict(r.usage))
        chunks = list(
            client.chat.completions.create(
                model="claude-haiku-4-5", messages=[{"role": "user", "content": "again"}], stream=True
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == ic.PiiScanner().scan(PII_REPLY).text
        usage = next(c.usage for c in chunks if c.usage is not None)
        expected += ic.cost_of("claude-haiku-4-5", usage_dict(usage))
        assert router.total_spent() == pytest.approx(expected, abs=1e-9)
    first, second = fake.requests()
    assert first["path"] == "/v1/messages" and first["x_api_key"] == "provider-secret"
    assert first["body"]["system"] == "Be brief."
    assert first["body"]["stop_sequences"] == ["END"]
    assert first["body"]["max_tokens"] == 300
    assert second["body"]["stream"] is True


def test_events_file_gets_one_json_line_per_event(fake: FakeProvider, tmp_path: Any) -> None:
    path = tmp_path / "events.jsonl"
    with make_router(fake, events_path=path) as router:
        oa(router).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["type"] for e in events] == ["llm_call"]
    assert events[0]["model"] == "gpt-4o-mini" and events[0]["cost_usd"] > 0
