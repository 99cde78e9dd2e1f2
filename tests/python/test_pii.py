"""PiiScanner from Python: modes, str offsets, allow-lists, custom patterns, HMAC, streaming, properties."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import iron_cage as ic

KEY = b"0123456789abcdef-test-key"
SAMPLES = [
    "jane.roe@example.com",
    "(415) 555-2671",
    "+44 20 7946 0958",
    "536-22-8726",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "192.168.10.254",
    "2001:db8::8a2e:370:7334",
    "00:1A:2B:3C:4D:5E",
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123",
    "AKIAIOSFODNN7EXAMPLE",
]


def scanner(**kwargs: object) -> ic.PiiScanner:
    return ic.PiiScanner(hmac_key=KEY, **kwargs)  # type: ignore[arg-type]


def mac(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


def test_redact_with_str_offsets_after_non_ascii_text() -> None:
    text = "Grüße an José: jane.roe@example.com 📞 (415) 555-2671"
    r = scanner().scan(text)
    assert r.text == "Grüße an José: [EMAIL_REDACTED] 📞 [PHONE_REDACTED]"
    assert [(f.entity, text[f.start : f.end], f.severity) for f in r.findings] == [
        ("EMAIL", "jane.roe@example.com", "high"),
        ("PHONE", "(415) 555-2671", "medium"),
    ]
    assert r.findings[0].value_hmac == mac("jane.roe@example.com")
    assert not r.blocked


def test_block_raises_and_returns_nothing() -> None:
    s = scanner(mode="block")
    with pytest.raises(ic.PiiBlockedError) as info:
        s.scan("card 4111 1111 1111 1111 please")
    assert "CREDIT_CARD x1" in str(info.value)
    assert "4111" not in str(info.value) and "4111" not in repr(info.value.findings)
    r = s.scan("card 4111 1111 1111 1111", raise_on_block=False)
    assert (r.text, r.blocked, len(r.findings)) == ("", True, 1)
    assert s.scan("nothing here").text == "nothing here"


def test_warn_reports_and_keeps_text() -> None:
    r = scanner(mode="warn").scan("ssn 536-22-8726")
    assert (r.text, [f.entity for f in r.findings]) == ("ssn 536-22-8726", ["US_SSN"])


def test_entities_allow_lists_and_custom_patterns() -> None:
    text = "ceo@acme.com, bob@mail.acme.com, x@other.org, 192.168.1.1, EMP-004211"
    s = scanner(
        entities=["EMAIL"],
        allow_domains=["acme.com"],
        custom_patterns={"EMPLOYEE_ID": r"\bEMP-[0-9]{6}\b"},
    )
    assert (
        s.scan(text).text
        == "ceo@acme.com, bob@mail.acme.com, [EMAIL_REDACTED], 192.168.1.1, [EMPLOYEE_ID_REDACTED]"
    )
    assert scanner(allow_values=["x@other.org"]).scan("x@other.org").findings == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"mode": "shout"}, "unknown safety mode"),
        ({"entities": ["PASSPORT"]}, "unknown entity"),
        ({"custom_patterns": {"X": "("}}, "custom pattern X"),
        ({"custom_patterns": {"X": "a*"}}, "empty string"),
        ({"custom_patterns": [("X", "abc", "severe")]}, "severity"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ic.ConfigError, match=needle):
        scanner(**kwargs)


def test_hmac_key_is_generated_once_per_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRON_CAGE_HOME", str(tmp_path))
    monkeypatch.delenv("IRON_CAGE_PII_HMAC_KEY", raising=False)
    first = ic.PiiScanner().scan("a@b.io").findings[0].value_hmac
    key_file = tmp_path / "pii_hmac.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert ic.PiiScanner().scan("a@b.io").findings[0].value_hmac == first, "same key next time"
    monkeypatch.setenv("IRON_CAGE_PII_HMAC_KEY", "configured-key-of-enough-length")
    assert ic.PiiScanner().scan("a@b.io").findings[0].value_hmac != first
    with pytest.raises(ic.ConfigError, match="at least 16 bytes"):
        ic.PiiScanner(hmac_key="short")
    os.chmod(key_file, 0o600)


def test_stream_catches_pii_split_across_chunks() -> None:
    s = scanner()
    text = "Reach jane.roe@example.com or 4111 1111 1111 1111 today."
    for cut in range(len(text) + 1):
        st = s.stream()
        out = st.feed(text[:cut]) + st.feed(text[cut:]) + st.finish()
        assert out == "Reach [EMAIL_REDACTED] or [CREDIT_CARD_REDACTED] today.", cut
        assert [(f.entity, text[f.start : f.end]) for f in st.findings] == [
            ("EMAIL", "jane.roe@example.com"),
            ("CREDIT_CARD", "4111 1111 1111 1111"),
        ]


def test_stream_block_mode_stops_emitting() -> None:
    st = scanner(mode="block").stream()
    assert st.feed("fine text " * 100) != ""
    with pytest.raises(ic.PiiBlockedError):
        st.feed("now a@b.io " + "x" * 600)
    assert st.feed("more") == ""


texts = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(SAMPLES)), max_size=8).map(" ".join)


def token(entity: str) -> str:
    return "[SSN_REDACTED]" if entity == "US_SSN" else f"[{entity}_REDACTED]"


@given(texts)
def test_never_raises_redaction_replaces_exactly_the_findings_and_offsets_index_the_input(text: str) -> None:
    r = scanner().scan(text)
    w = scanner(mode="warn").scan(text)
    assert w.text == text
    expected, last = [], 0
    for f in w.findings:
        value = text[f.start : f.end]
        assert f.value_hmac == mac(value), "offsets are str indices of the value"
        expected += [text[last : f.start], token(f.entity)]
        last = f.end
    expected.append(text[last:])
    assert r.text == "".join(expected), "each finding replaced by its token, nothing else changed"


@given(texts, st.lists(st.integers(0, 10_000), max_size=6))
def test_streaming_equals_one_shot_for_any_chunking(text: str, cuts: list[int]) -> None:
    s = scanner()
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    st = s.stream()
    out = "".join(st.feed(p) for p in pieces) + st.finish()
    assert out == s.scan(text).text
