"""The same deterministic PII corpus as `iron_cage_benches::pii_corpus` (benches/src/lib.rs)."""

from __future__ import annotations

SENTENCES = [
    "The quarterly report shows revenue grew 12% to $4.2 million on 2026-11-21.",
    "Our agent reviewed 341 leads and scheduled 27 demos for the sales team.",
    "Please find attached the summary of the meeting with the product group.",
    "The model answered in 1.8 seconds and used 1,204 tokens in total.",
    "Version 3.14 of the client fixes the retry logic described in ticket 5512.",
    "She asked whether the contract renewal could move to the first week of March.",
    "Order 100234567 shipped from the Denver warehouse on Tuesday morning.",
    "The committee approved the budget after a long discussion about hiring.",
]
PII = [
    "Contact jane.roe@example.com for details.",
    "Call her at (415) 555-2671 after lunch.",
    "The card on file is 4111 1111 1111 1111.",
    "His SSN is 536-22-8726 according to the form.",
    "The server at 192.168.10.254 stopped responding.",
    "Rotate the key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123 today.",
]
MASK = (1 << 64) - 1


def pii_corpus(size: int, pii_percent: int) -> str:
    state = 0x2545_F491_4F6C_DD1D
    parts: list[str] = []
    length = 0
    while length < size:
        state ^= (state << 13) & MASK
        state ^= state >> 7
        state ^= (state << 17) & MASK
        pick = state % 1000
        piece = (
            PII[pick % len(PII)] if (state >> 32) % 100 < pii_percent else SENTENCES[pick % len(SENTENCES)]
        )
        parts.append(piece + " ")
        length += len(piece) + 1
    return "".join(parts)
