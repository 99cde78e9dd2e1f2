"""A small PII detector in pure Python, for ``iron_cage.testing`` without the Rust core.

It finds the kinds :func:`~iron_cage.testing.pii_samples` generates, in the formats it
generates them (and the common variants listed per pattern), with the same validators
(Luhn, mod-97, SSA rules, octet ranges) and the same redaction tokens as the Rust
scanner. It is not the product's scanner: no international phone formats, IPv6, JWTs,
PEM blocks or code-aware rules (see docs/testing.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

ENTITIES = ("EMAIL", "PHONE", "US_SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "MAC_ADDRESS", "API_KEY")
SEVERITY = {
    "EMAIL": "high",
    "PHONE": "medium",
    "US_SSN": "critical",
    "CREDIT_CARD": "critical",
    "IBAN": "high",
    "IP_ADDRESS": "low",
    "MAC_ADDRESS": "low",
    "API_KEY": "critical",
}
TOKEN = {entity: f"[{entity}_REDACTED]" for entity in ENTITIES} | {"US_SSN": "[SSN_REDACTED]"}
#: Entities that are credentials: the default request policy refuses them.
CREDENTIALS = frozenset({"API_KEY"})


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits)


def _iban(value: str) -> bool:
    compact = re.sub(r"[ -]", "", value).upper()
    moved = compact[4:] + compact[:4]
    return 15 <= len(compact) <= 34 and int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ssn(value: str) -> bool:
    area, group, serial = int(value[0:3]), int(value[4:6]), int(value[7:11])
    known_samples = {"078-05-1120", "219-09-9999", "123-45-6789"}
    return (
        area not in (0, 666)
        and area < 900
        and group != 0
        and serial != 0
        and value.replace(" ", "-").replace(".", "-") not in known_samples
    )


def _ip(value: str) -> bool:
    return all(int(part) <= 255 and (part == "0" or not part.startswith("0")) for part in value.split("."))


def _phone(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11:
        digits = digits[1:]
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789"


def _any(value: str) -> bool:
    return True


_W = r"(?<![\w.@-])"  # not inside a longer word, number or address
_E = r"(?![\w@]|[.-]\w)"
PATTERNS: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    (
        "API_KEY",
        re.compile(
            r"(?<![\w-])(?:sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}"
            r"|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,}|xox[abposr]-[A-Za-z0-9-]{10,}"
            r"|AIza[0-9A-Za-z_-]{35})(?![\w-])"
        ),
        _any,
    ),
    (
        "EMAIL",
        re.compile(
            r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}(?![\w-])"
        ),
        _any,
    ),
    ("CREDIT_CARD", re.compile(_W + r"\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}" + _E), _card),
    (
        "IBAN",
        re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?(?!\w)"),
        _iban,
    ),
    ("US_SSN", re.compile(_W + r"\d{3}([- .])\d{2}\1\d{4}" + _E), _ssn),
    (
        "PHONE",
        re.compile(r"(?<![\w+(-])(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}" + _E),
        _phone,
    ),
    (
        "MAC_ADDRESS",
        re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])"),
        _any,
    ),
    ("IP_ADDRESS", re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)"), _ip),
]


@dataclass(frozen=True)
class Finding:
    """One finding: the entity, its offsets (characters) in the scanned text, its severity."""

    entity: str
    start: int
    end: int
    severity: str


@dataclass
class ScanResult:
    """``text`` with the findings replaced by their tokens (redact) or unchanged (warn)."""

    text: str
    findings: list[Finding] = field(default_factory=list)
    blocked: bool = False


def find(text: str, entities: frozenset[str] | None = None) -> list[Finding]:
    """The findings in ``text``, in order; overlapping candidates go to the longest match."""
    candidates: list[Finding] = []
    for entity, pattern, valid in PATTERNS:
        if entities is not None and entity not in entities:
            continue
        for m in pattern.finditer(text):
            if valid(m.group(0)):
                candidates.append(Finding(entity, m.start(), m.end(), SEVERITY[entity]))
    candidates.sort(key=lambda f: (f.start, -(f.end - f.start)))
    found: list[Finding] = []
    for f in candidates:
        if not found or f.start >= found[-1].end:
            found.append(f)
    return found


def replace(text: str, findings: list[Finding], token: Callable[[Finding], str]) -> str:
    """``text`` with each finding replaced by ``token(finding)``."""
    out, at = [], 0
    for f in findings:
        out.append(text[at : f.start])
        out.append(token(f))
        at = f.end
    out.append(text[at:])
    return "".join(out)


def scan(text: str, mode: str = "redact") -> ScanResult:
    """Scans ``text``: ``redact`` replaces findings by their tokens, ``warn`` and ``block``
    leave the text as it is (``blocked`` says whether block mode would refuse it)."""
    findings = find(text)
    if mode == "redact":
        return ScanResult(replace(text, findings, lambda f: TOKEN[f.entity]), findings)
    return ScanResult(text, findings, blocked=mode == "block" and bool(findings))
