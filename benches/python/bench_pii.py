"""PII scanning throughput and per-call cost, with Python `re` and Presidio in the same run.

Run: make bench-python   (or: .venv/bin/python benches/python/bench_pii.py)

Corpus: benches/python/corpus.py (the same text as the criterion bench), 1 MiB
with ~1% of sentences carrying PII, and 1 MiB with none; and 1 MiB of source code,
this repository's Rust crates other than the PII engine read at run time (as the
criterion bench's `code` corpus).
Peers:
- Python `re`: iron-cage's own patterns (`_core.pii_patterns()`) as ONE
  alternation, `finditer` only (no validation, no redaction).
- Presidio (presidio-analyzer, if installed): its predefined recognizers for the
  same entities, called directly without an NLP engine: EmailRecognizer,
  PhoneRecognizer, UsSsnRecognizer, CreditCardRecognizer, IbanRecognizer,
  IpRecognizer (`recognizer.analyze(text, entities, nlp_artifacts=None)`).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path

from corpus import pii_corpus
from timing import per_call_ns

import iron_cage as ic
from iron_cage import _core

MIB = 1 << 20


def mb_per_s(fn: Callable[[str], object], text: str, min_seconds: float = 1.0) -> float:
    runs, start = 0, time.perf_counter()
    while True:
        fn(text)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and runs >= 3:
            return runs * len(text.encode()) / elapsed / 1e6


def code_corpus(size: int) -> str:
    """About ``size`` bytes of this repository's Rust sources (``crates/`` without
    ``iron_safety``), repeated as needed."""
    crates = Path(__file__).resolve().parents[2] / "crates"
    files = sorted(p for p in crates.rglob("*.rs") if "iron_safety" not in p.parts)
    text = "".join(p.read_text(encoding="utf-8") for p in files)
    out = text * (size // len(text.encode()) + 1)
    return out.encode()[:size].decode("utf-8", errors="ignore")


def presidio_scanner() -> Callable[[str], object] | None:
    try:
        import tldextract  # type: ignore[import-not-found,unused-ignore]
        import tldextract.tldextract  # type: ignore[import-not-found,unused-ignore]

        # Presidio's e-mail validation calls tldextract, which downloads the public
        # suffix list by default; use the snapshot bundled with the package instead.
        tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

        from presidio_analyzer.predefined_recognizers import (  # type: ignore[import-not-found,unused-ignore]
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UsSsnRecognizer,
        )
    except ImportError:
        return None
    recognizers = [
        EmailRecognizer(),
        PhoneRecognizer(),
        UsSsnRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
    ]

    def scan(text: str) -> object:
        return [r.analyze(text, r.supported_entities, None) for r in recognizers]  # type: ignore[arg-type,unused-ignore]

    return scan


def main() -> None:
    mixed = pii_corpus(MIB, 1)
    clean = pii_corpus(MIB, 0)
    code = code_corpus(MIB)
    kb = pii_corpus(1024, 1)
    scanner = ic.PiiScanner(hmac_key=b"benchmark-hmac-key")
    alternation = re.compile("|".join(f"(?:{p})" for _, p in _core.pii_patterns()))
    presidio = presidio_scanner()

    def ours(text: str) -> object:
        return scanner.scan(text)

    def python_re(text: str) -> object:
        return sum(1 for _ in alternation.finditer(text))

    rows: list[tuple[str, float, float, float, float]] = []
    peers: list[tuple[str, Callable[[str], object]]] = [
        ("iron-cage PiiScanner.scan", ours),
        ("Python re, same patterns", python_re),
    ]
    if presidio is not None:
        peers.append(("Presidio 6 recognizers", presidio))
    for name, fn in peers:
        small = min(5.0, len(mixed) / 1e6)
        rows.append(
            (
                name,
                mb_per_s(fn, mixed, min_seconds=small),
                mb_per_s(fn, clean, min_seconds=small),
                mb_per_s(fn, code, min_seconds=small),
                per_call_ns(functools.partial(fn, kb), number=200 if "iron" in name else 20) / 1000,
            )
        )
    print("| scanner | MB/s, 1% PII | MB/s, no PII | MB/s, code | per 1 KB call |")
    print("|---|---|---|---|---|")
    for name, a, b, d, c in rows:
        print(f"| {name} | {a:.1f} | {b:.1f} | {d:.1f} | {c:.2f} µs |")
    ours_mixed = rows[0][1]
    for name, a, _, _, _ in rows[1:]:
        print(f"\niron-cage vs {name}: {ours_mixed / a:.0f}x the throughput on the 1% PII corpus")


if __name__ == "__main__":
    main()
