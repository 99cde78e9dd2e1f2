"""count_tokens against OpenAI's tiktoken (an independent implementation), and the message rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import iron_cage as ic
from tiktoken_local import encoding

SAMPLES = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.\n\n  Indented   spaces\ttabs",
    "Prices: $12.50, 3.14159, 1,000,000 and 2026-11-21T20:21:00Z",
    "Emojis 🤖🔥 and CJK 日本語のテキスト and Ελληνικά and العربية",
    "def f(x):\n    return x ** 2  # code\n",
    "<|endoftext|> is ordinary text here",
    "a" * 5000,
]


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize(("model", "enc"), [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")])
def test_matches_tiktoken(model: str, enc: str, text: str) -> None:
    assert ic.count_tokens(model, text) == len(encoding(enc).encode_ordinary(text))


@given(st.text(max_size=300))
def test_matches_tiktoken_on_arbitrary_unicode(text: str) -> None:
    assert ic.count_tokens("gpt-4.1-mini", text) == len(encoding("o200k_base").encode_ordinary(text))


@pytest.mark.parametrize(
    ("model", "enc"),
    [
        ("gpt-5", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
    ],
)
def test_model_families(model: str, enc: str) -> None:
    text = "Tokenizer families differ: gpt-4o uses o200k_base."
    assert ic.count_tokens(model, text) == len(encoding(enc).encode_ordinary(text))
    assert ic.token_count_is_exact(model)


def test_chat_messages_follow_openai_cookbook() -> None:
    msgs = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?", "name": "alice"},
    ]
    enc = encoding("o200k_base")
    expected = 3  # reply priming
    for m in msgs:
        expected += 3 + sum(len(enc.encode_ordinary(v)) for v in m.values()) + (1 if "name" in m else 0)
    assert ic.count_tokens("gpt-4o", msgs) == expected


def test_content_parts_count_their_text() -> None:
    parts = [
        {"role": "user", "content": [{"type": "text", "text": "describe"}, {"type": "text", "text": "this"}]}
    ]
    plain = [{"role": "user", "content": "describethis"}]
    enc = encoding("o200k_base")
    assert ic.count_tokens("gpt-4o", parts) == 3 + 3 + len(enc.encode_ordinary("user")) + 2
    assert ic.count_tokens("gpt-4o", plain) == 3 + 3 + len(enc.encode_ordinary("user")) + len(
        enc.encode_ordinary("describethis")
    )


def test_claude_is_a_documented_conservative_estimate() -> None:
    text = "Claude counts are estimates. " * 20
    base = len(encoding("cl100k_base").encode_ordinary(text))
    assert ic.count_tokens("claude-sonnet-4-5", text) == -(-base * 5 // 4)
    assert not ic.token_count_is_exact("claude-3-5-haiku-20241022")


def test_errors() -> None:
    with pytest.raises(ic.ConfigError, match="no tokenizer known"):
        ic.count_tokens("llama-3-70b", "hi")
    with pytest.raises(ic.ConfigError, match="message 0 is not a dict"):
        ic.count_tokens("gpt-4o", ["just a string"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="text_or_messages must be a str"):
        ic.count_tokens("gpt-4o", 42)  # type: ignore[arg-type]
