"""Assertions and data generators for tests of governed agents."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from iron_cage import _native
from iron_cage._exceptions import BudgetExceededError
from iron_cage.testing import _pure_pii, _pure_reply

if TYPE_CHECKING:
    from typing import TypeAlias

    from iron_cage import _core

    #: A finding: the Rust scanner's, or the pure-Python detector's without the core.
    Finding: TypeAlias = _core.Finding | _pure_pii.Finding


class RaisedInfo:
    """What :func:`assert_budget_exceeded` caught (``.value``)."""

    value: BudgetExceededError


@contextmanager
def assert_budget_exceeded() -> Iterator[RaisedInfo]:
    """Fails unless the block raises :class:`BudgetExceededError`."""
    info = RaisedInfo()
    try:
        yield info
    except BudgetExceededError as exc:
        info.value = exc
        return
    raise AssertionError("expected BudgetExceededError: the block completed within its budget")


def _findings(subject: Any) -> list[Finding]:
    if not isinstance(subject, str):
        return list(subject.findings)
    if _native.MISSING is not None:
        return list(_pure_pii.scan(subject, mode="warn").findings)
    from iron_cage._pii import PiiScanner

    return list(PiiScanner(mode="warn").scan(subject).findings)


def assert_pii_detected(
    subject: str | _core.ScanResult | _pure_pii.ScanResult, entity: str | None = None
) -> list[Finding]:
    """Fails unless ``subject`` (text, or a scan result) has PII (of ``entity``); returns the
    findings. Without the Rust core, text is scanned by the pure-Python detector
    (the kinds :func:`pii_samples` makes)."""
    found = [f for f in _findings(subject) if entity is None or f.entity == entity]
    if not found:
        what = entity or "any PII"
        seen = sorted({f.entity for f in _findings(subject)}) or "nothing"
        raise AssertionError(f"expected {what} to be detected; found {seen}")
    return found


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _iban(rng: random.Random) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(18))
    numeric = int("".join(str(int(c, 36)) for c in bban + "DE00"))
    return f"DE{98 - numeric % 97:02d}{bban}"


def _one(entity: str, rng: random.Random) -> str:
    def d(k: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(k))

    if entity == "EMAIL":
        return f"{rng.choice(['ann', 'bo', 'chen', 'dev'])}.{d(3)}@example{rng.randint(1, 9)}.com"
    if entity == "PHONE":
        return f"({rng.randint(2, 9)}{d(2)}) {rng.randint(2, 9)}{d(2)}-{d(4)}"
    if entity == "US_SSN":
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if entity == "CREDIT_CARD":
        body = "4" + d(14)
        n = body + _luhn_digit(body)
        return " ".join(n[i : i + 4] for i in range(0, 16, 4))
    if entity == "IBAN":
        return _iban(rng)
    if entity == "IP_ADDRESS":
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if entity == "MAC_ADDRESS":
        return ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6))
    if entity == "API_KEY":
        return "sk-proj-" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    raise ValueError(
        f"unknown entity {entity!r}: use EMAIL, PHONE, US_SSN, CREDIT_CARD, IBAN, "
        "IP_ADDRESS, MAC_ADDRESS or API_KEY"
    )


def pii_samples(entity: str, n: int = 10, seed: int = 0) -> list[str]:
    """``n`` valid, deterministic sample values of ``entity`` (never real people's data)."""
    rng = random.Random(f"{entity}:{seed}")
    return [_one(entity, rng) for _ in range(n)]


def provider_response(
    text: str | None = None, *, model: str = "gpt-4o-mini", api: str = "chat", stream: bool = False
) -> Any:
    """A provider reply as FakeProvider renders it: ``api`` is ``chat``, ``responses``,
    ``messages`` (Anthropic) or ``embeddings``. A dict, or the SSE text when ``stream``.
    Without the Rust core, rendered in Python with its token estimate (docs/testing.md)."""
    paths = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "messages": "/v1/messages"}
    paths["embeddings"] = "/v1/embeddings"
    if api not in paths:
        raise ValueError(f"unknown api {api!r}: use one of {', '.join(paths)}")
    request: dict[str, Any] = {"model": model, "stream": stream}
    if api in ("responses", "embeddings"):
        request["input"] = "hello"
    else:
        request["messages"] = [{"role": "user", "content": "hello"}]
        request["max_tokens"] = 256
    if stream and api == "chat":
        request["stream_options"] = {"include_usage": True}
    if _native.MISSING is not None:
        reply = _pure_reply.Reply.render(api, request, model, 1, text)
        return reply.stream(reply.text) if stream else reply.body(reply.text)
    from iron_cage import _core

    rendered = _core.render_fake_reply(paths[api], json.dumps(request).encode(), 1, text)
    assert rendered is not None
    body, is_stream = rendered
    return body.decode() if is_stream else json.loads(body)
