"""Zero overspend for every kind of input: images, documents, audio, context by
reference and server-side tools, in library mode and router mode, against a
FakeProvider that bills them by the providers' published rules."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iron_cage as ic
from iron_cage.testing import FakeProvider, media


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def user(*parts: Any) -> Any:
    """One user message with ``parts`` (typed loosely: the SDK types list no media parts)."""
    return [{"role": "user", "content": list(parts)}]


def calls(rt: ic.AgentRuntime) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    rt.on_event(lambda e: seen.append(e) if e["type"] == "llm_call" else None)
    return seen


def twenty_images_request() -> dict[str, Any]:
    image = media.png(2048, 2048)  # 765 tokens at high detail on gpt-4o
    parts: list[Any] = [{"type": "text", "text": "Compare these."}]
    parts += [media.openai_image(image, "high") for _ in range(20)]
    return {"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": parts}]}


def test_images_are_reserved_at_their_billed_size_in_library_mode(fake: FakeProvider) -> None:
    body = twenty_images_request()
    billed_one = ic.cost_of("gpt-4o", {"prompt_tokens": 20 * 765, "completion_tokens": 0})
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0)

    async def one() -> str:
        try:
            await client.chat.completions.create(**body)
            return "ok"
        except ic.BudgetExceededError:
            return "refused"

    async def twenty() -> list[str]:
        try:
            return await asyncio.gather(*(one() for _ in range(20)))
        finally:
            await client.close()

    with ic.AgentRuntime(budget=0.10) as rt:
        seen = calls(rt)
        outcomes = asyncio.run(twenty())
        # Each call bills ~$0.04: two fit in $0.10, the rest are refused unsent.
        assert outcomes.count("ok") == 2, outcomes
        assert rt.spent_usd <= 0.10
        for e in seen:
            assert e["input_tokens"] >= 20 * 765
            assert e["cost_usd"] >= billed_one
            assert e["cost_usd"] <= e["reserved_usd"]


def test_twenty_concurrent_image_requests_cannot_overspend_a_router(fake: FakeProvider) -> None:
    body = json.dumps(twenty_images_request()).encode()
    with ic.LlmRouter(budget=0.01, provider_key="k", upstream=fake.base_url) as router:

        async def run() -> list[int]:
            async with httpx2.AsyncClient(timeout=30) as http:
                url = f"{router.base_url}/chat/completions"
                headers = {"authorization": f"Bearer {router.api_key}", "content-type": "application/json"}
                answers = await asyncio.gather(
                    *(http.post(url, content=body, headers=headers) for _ in range(20))
                )
                return [a.status_code for a in answers]

        statuses = asyncio.run(run())
        # One call alone would bill $0.038 against $0.01: every one is refused.
        assert statuses == [402] * 20
        spent, limit = router.budget_status
        assert spent == 0 and limit == pytest.approx(0.01)
    with ic.LlmRouter(budget=0.10, provider_key="k", upstream=fake.base_url) as router:
        client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key, max_retries=0)
        statuses = []
        for _ in range(5):
            try:
                client.chat.completions.create(**twenty_images_request())
                statuses.append(200)
            except openai.APIStatusError as exc:
                statuses.append(exc.status_code)
        assert statuses == [200, 200, 402, 402, 402]
        assert router.total_spent() <= 0.10
        client.close()


def test_detail_low_and_unknown_sizes(fake: FakeProvider) -> None:
    # detail low is the base 85 tokens; an image by URL is reserved at the model's maximum.
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    big = media.png(4000, 3000)
    url_part = {"type": "image_url", "image_url": {"url": "https://images.example/cat.png"}}
    with ic.AgentRuntime(budget=1.0) as rt:
        seen = calls(rt)
        for part in (media.openai_image(big, "low"), url_part):
            client.chat.completions.create(model="gpt-4o", max_tokens=5, messages=user(part))
        low, by_url = seen
        assert 85 <= low["input_tokens"] < 200
        assert by_url["input_tokens"] >= 85 + 170 * 8
        assert all(e["cost_usd"] <= e["reserved_usd"] for e in seen)
    client.close()


def test_anthropic_images_and_pdfs_in_both_modes(fake: FakeProvider) -> None:
    content: list[Any] = [
        media.anthropic_image(media.png(1000, 1000)),
        media.anthropic_pdf(media.pdf(3)),
        {"type": "text", "text": "Summarise."},
    ]
    body: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": content}],
    }
    base = fake.base_url.removesuffix("/v1")
    with ic.AgentRuntime(budget=1.0) as rt:
        seen = calls(rt)
        client = anthropic.Anthropic(base_url=base, api_key="k", max_retries=0)
        r = client.messages.create(**body)
        # 1,334 for the image, three pages of text and page images.
        assert r.usage.input_tokens > 1_334 + 3 * 1_200
        assert seen[0]["cost_usd"] <= seen[0]["reserved_usd"]
        client.close()
    # The same request cannot slip past a router budget that the document alone exceeds.
    before = fake.request_count
    with ic.LlmRouter(budget=0.005, provider_key="k", upstream=fake.base_url) as router:
        client = anthropic.Anthropic(
            base_url=router.base_url.removesuffix("/v1"), api_key=router.api_key, max_retries=0
        )
        with pytest.raises(anthropic.APIStatusError) as info:
            client.messages.create(**body)
        assert info.value.status_code == 402
        assert fake.request_count == before
        client.close()


def test_openai_pdf_files_and_audio(fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    with ic.AgentRuntime(budget=5.0) as rt:
        seen = calls(rt)
        client.chat.completions.create(
            model="gpt-4o",
            max_tokens=10,
            messages=user(media.openai_file(media.pdf(4)), {"type": "text", "text": "?"}),
        )
        r = client.chat.completions.create(
            model="gpt-4o-audio-preview",
            max_tokens=100,
            modalities=["text", "audio"],
            audio={"voice": "alloy", "format": "wav"},
            messages=user(media.openai_audio(media.wav(30.0))),
        )
        assert r.usage is not None and r.usage.prompt_tokens_details is not None
        assert r.usage.prompt_tokens_details.audio_tokens == 300  # 30 s at 10 a second
        assert r.usage.completion_tokens_details is not None
        audio_out = r.usage.completion_tokens_details.audio_tokens or 0
        assert audio_out > 0
        pdf_call, audio_call = seen
        assert pdf_call["input_tokens"] > 4 * 1_200
        # Audio is charged at the audio rates ($40 / $80 per 1M on gpt-4o-audio-preview).
        assert audio_call["cost_usd"] == pytest.approx(
            ic.cost_of("gpt-4o-audio-preview", r.usage.model_dump()), abs=1e-6
        )
        assert audio_call["cost_usd"] > 300 * 40e-6
        assert all(e["cost_usd"] <= e["reserved_usd"] for e in seen)
    client.close()


def test_audio_pricing_from_reported_usage() -> None:
    usage = {
        "prompt_tokens": 1_100,
        "completion_tokens": 500,
        "prompt_tokens_details": {"audio_tokens": 1_000, "cached_tokens": 0},
        "completion_tokens_details": {"audio_tokens": 400},
    }
    expected = 100 * 2.5e-6 + 1_000 * 32e-6 + 100 * 10e-6 + 400 * 64e-6
    assert ic.cost_of("gpt-audio", usage) == pytest.approx(expected, abs=1e-6)


def test_context_by_reference_and_server_tools(fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    before = fake.request_count
    with ic.AgentRuntime(budget=0.05):
        # A stored response may hold up to the context window (400k tokens on gpt-5: $0.50).
        with pytest.raises(ic.BudgetExceededError, match="previous_response_id"):
            client.responses.create(
                model="gpt-5", input="go on", previous_response_id="resp_1", max_output_tokens=10
            )
        with pytest.raises(ic.BudgetExceededError, match="web_search") as info:
            client.responses.create(model="gpt-5", input="news?", tools=[{"type": "web_search"}])
        assert "unbounded_reserve_usd" in str(info.value)
        assert fake.request_count == before
    with ic.AgentRuntime(budget=1.0) as rt:
        seen = calls(rt)
        r = client.responses.create(
            model="gpt-5", input="go on", previous_response_id="resp_1", max_output_tokens=10
        )
        assert r.usage is not None and r.usage.input_tokens >= 50_000
        assert seen[0]["cost_usd"] <= seen[0]["reserved_usd"]
        assert seen[0]["reserved_usd"] >= ic.cost_of("gpt-5", {"input_tokens": 400_000, "output_tokens": 0})
    # A stated reserve admits a server-side tool.
    with ic.AgentRuntime(budget=1.0, unbounded_reserve_usd=0.25) as rt:
        seen = calls(rt)
        client.responses.create(
            model="gpt-5", input="news?", tools=[{"type": "web_search"}], max_output_tokens=10
        )
        assert seen[0]["reserved_usd"] >= 0.25
    client.close()


def test_unknown_input_kinds_are_refused_in_both_modes(fake: FakeProvider) -> None:
    body = {
        "model": "gpt-4o",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "hologram", "hologram": {"data": "..."}}]}],
    }
    before = fake.request_count
    with ic.AgentRuntime(budget=1.0):
        http = httpx2.Client(base_url=fake.base_url)
        r = http.post("/chat/completions", json=body)
        assert r.status_code == 402
        assert "messages[0].content[0].type" in r.json()["error"]["message"]
        http.close()
    with ic.LlmRouter(budget=1.0, provider_key="k", upstream=fake.base_url) as router:
        r = httpx2.post(
            f"{router.base_url}/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {router.api_key}"},
        )
        assert r.status_code == 402 and r.json()["error"]["code"] == "cost_unbounded"
    assert fake.request_count == before
    # Without a limit nothing can be overspent: it is sent (and charged from usage).
    with ic.AgentRuntime(budget=None) as rt:
        http = httpx2.Client(base_url=fake.base_url)
        assert http.post("/chat/completions", json=body).status_code == 200
        assert rt.spent_usd > 0
        http.close()


# -- property: what is reserved covers what the provider bills ------------------------
_MODELS_OPENAI = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5",
    "gpt-5-mini",
    "o3",
]
_MODELS_CLAUDE = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]
_size = st.integers(min_value=1, max_value=9000)


@st.composite
def _openai_part(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["image", "image", "url", "pdf", "text"]))
    if kind == "image":
        detail = draw(st.sampled_from([None, "low", "high", "auto"]))
        return media.openai_image(media.png(draw(_size), draw(_size)), detail)
    if kind == "url":
        return {"type": "image_url", "image_url": {"url": "https://images.example/x.png"}}
    if kind == "pdf":
        return media.openai_file(media.pdf(draw(st.integers(1, 12))))
    return {"type": "text", "text": draw(st.text(max_size=200))}


@st.composite
def _claude_part(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["image", "image", "pdf", "text"]))
    if kind == "image":
        return media.anthropic_image(media.png(draw(_size), draw(_size)))
    if kind == "pdf":
        return media.anthropic_pdf(media.pdf(draw(st.integers(1, 12))))
    return {"type": "text", "text": draw(st.text(min_size=1, max_size=200))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    openai_request=st.tuples(
        st.sampled_from(_MODELS_OPENAI), st.lists(_openai_part(), min_size=1, max_size=6)
    ),
    claude_request=st.tuples(
        st.sampled_from(_MODELS_CLAUDE), st.lists(_claude_part(), min_size=1, max_size=6)
    ),
)
def test_reserved_always_covers_what_is_billed(
    fake: FakeProvider,
    openai_request: tuple[str, list[dict[str, Any]]],
    claude_request: tuple[str, list[dict[str, Any]]],
) -> None:
    (om, oparts), (cm, cparts) = openai_request, claude_request
    with ic.AgentRuntime(budget=1000.0) as rt:
        seen = calls(rt)
        http = httpx2.Client(base_url=fake.base_url, timeout=30)
        r1 = http.post(
            "/chat/completions",
            json={"model": om, "max_tokens": 8, "messages": [{"role": "user", "content": oparts}]},
        )
        r2 = http.post(
            "/messages",
            json={"model": cm, "max_tokens": 8, "messages": [{"role": "user", "content": cparts}]},
        )
        http.close()
        assert (r1.status_code, r2.status_code) == (200, 200), (r1.text, r2.text)
        billed = [
            ic.cost_of(om, r1.json()["usage"]),
            ic.cost_of(cm, r2.json()["usage"]),
        ]
        assert [e["cost_usd"] for e in seen] == pytest.approx(billed, abs=1e-6)
        for e in seen:
            assert e["cost_usd"] <= e["reserved_usd"], (e, om, cm, [p.get("type") for p in oparts + cparts])


def test_media_generators_make_real_files() -> None:
    png = media.png(321, 123)
    assert png.startswith(b"\x89PNG") and int.from_bytes(png[16:20], "big") == 321
    doc = media.pdf(5)
    assert doc.startswith(b"%PDF") and doc.count(b"/Type /Page ") == 5
    wav = media.wav(1.5, rate=8000)
    assert len(wav) == 44 + 2 * 12_000
    assert base64.b64decode(media.openai_audio(wav)["input_audio"]["data"]) == wav
    with pytest.raises(ValueError, match="positive size"):
        media.png(0, 5)


def _kinds() -> list[tuple[str, str, dict[str, Any]]]:
    """One request per input kind: (name, path, body)."""
    chat = "/chat/completions"
    return [
        (
            "openai image",
            chat,
            {
                "model": "gpt-4.1-mini",
                "max_tokens": 8,
                "messages": user(media.openai_image(media.png(3000, 2000))),
            },
        ),
        (
            "openai image by url",
            chat,
            {
                "model": "gpt-5",
                "max_tokens": 8,
                "messages": user({"type": "image_url", "image_url": {"url": "https://x/y.png"}}),
            },
        ),
        (
            "openai pdf",
            chat,
            {"model": "gpt-4o", "max_tokens": 8, "messages": user(media.openai_file(media.pdf(6)))},
        ),
        (
            "audio in and out",
            chat,
            {
                "model": "gpt-audio",
                "max_tokens": 60,
                "modalities": ["text", "audio"],
                "audio": {"voice": "alloy", "format": "wav"},
                "messages": user(media.openai_audio(media.wav(12.0))),
            },
        ),
        (
            "responses image",
            "/responses",
            {
                "model": "o3",
                "max_output_tokens": 16,
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "input_image",
                                "image_url": media.data_url("image/png", media.png(1500, 900)),
                            }
                        ],
                    }
                ],
            },
        ),
        (
            "stored response",
            "/responses",
            {"model": "gpt-4.1", "max_output_tokens": 8, "input": "more", "previous_response_id": "resp_7"},
        ),
        (
            "anthropic image",
            "/messages",
            {
                "model": "claude-haiku-4-5",
                "max_tokens": 8,
                "messages": user(media.anthropic_image(media.png(2500, 2500))),
            },
        ),
        (
            "anthropic pdf",
            "/messages",
            {
                "model": "claude-opus-4-1",
                "max_tokens": 8,
                "messages": user(media.anthropic_pdf(media.pdf(2)), {"type": "text", "text": "sum up"}),
            },
        ),
        (
            "anthropic tools",
            "/messages",
            {
                "model": "claude-haiku-4-5",
                "max_tokens": 8,
                "tools": [
                    {"name": "f", "input_schema": {"type": "object"}},
                    {"type": "bash_20250124", "name": "bash"},
                ],
                "messages": user({"type": "text", "text": "hi"}),
            },
        ),
    ]


@pytest.mark.parametrize(("name", "path", "body"), _kinds(), ids=[k[0] for k in _kinds()])
def test_every_kind_in_both_modes(fake: FakeProvider, name: str, path: str, body: dict[str, Any]) -> None:
    # Library mode: charged what FakeProvider billed, never more than reserved.
    with ic.AgentRuntime(budget=100.0) as rt:
        seen = calls(rt)
        with httpx2.Client(base_url=fake.base_url, timeout=30) as http:
            r = http.post(path, json=body)
        assert r.status_code == 200, r.text
        billed = ic.cost_of(body["model"], r.json()["usage"])
        assert seen[0]["cost_usd"] == pytest.approx(billed, abs=1e-6)
        assert billed <= seen[0]["reserved_usd"], (name, seen[0])
    # Router mode: the same, and a budget just under the bill (where the input is counted
    # exactly, not bounded) refuses the call unsent, in both modes.
    with ic.LlmRouter(budget=100.0, provider_key="k", upstream=fake.base_url) as router:
        events: list[dict[str, Any]] = []
        router.on_event(events.append)
        headers = {"authorization": f"Bearer {router.api_key}"}
        r = httpx2.post(f"{router.base_url}{path}", json=body, timeout=30, headers=headers)
        assert r.status_code == 200, (name, r.text)
        call = next(e for e in events if e["type"] == "llm_call")
        assert router.total_spent() == pytest.approx(billed, abs=1e-6)
        assert billed <= call["reserved_usd"], (name, call)
    before = fake.request_count
    with ic.LlmRouter(budget=billed * 0.99, provider_key="k", upstream=fake.base_url) as router:
        headers = {"authorization": f"Bearer {router.api_key}"}
        r = httpx2.post(f"{router.base_url}{path}", json=body, timeout=30, headers=headers)
        assert r.status_code == 402, (name, r.text)
    with ic.AgentRuntime(budget=billed * 0.99), httpx2.Client(base_url=fake.base_url, timeout=30) as http:
        assert http.post(path, json=body).status_code == 402
    assert fake.request_count == before


def test_anthropic_web_searches_are_charged_per_use() -> None:
    usage = {"input_tokens": 1_000, "output_tokens": 100, "server_tool_use": {"web_search_requests": 3}}
    tokens = ic.cost_of("claude-haiku-4-5", {"input_tokens": 1_000, "output_tokens": 100})
    assert ic.cost_of("claude-haiku-4-5", usage) == pytest.approx(tokens + 3 * 0.01, abs=1e-9)
