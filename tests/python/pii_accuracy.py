"""A seeded PII accuracy suite with independent oracles.

Faker generates values; python-stdnum (Luhn, IBAN, US SSN), phonenumbers and
the standard library's ``ipaddress`` decide independently whether each value
is valid, and only agreed-valid values are positives. Hard negatives are
values that look like PII but are not: Faker's invalid SSNs, Luhn-failing
cards, IBANs with wrong check digits (each confirmed invalid by stdnum), order
numbers, dates, UUIDs, hex digests, version strings, prices and clock times.
Every value is placed in a varied sentence context.

Run ``python tests/python/pii_accuracy.py`` for the per-entity table in
docs/pii-accuracy.md; ``test_pii_accuracy.py`` asserts the thresholds.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import string
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers
from faker import Faker
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.us import ssn as std_ssn

CONTEXTS = [
    "{}",
    "Please contact {} about the invoice.",
    "ID: {}.",
    "({})",
    "Details - {} - attached",
    'She wrote "{}" on the form',
    "value={};next",
    "Line one\n{}\nline three",
    "Noted, {}, thanks!",
    "<td>{}</td>",
]


@dataclass
class Case:
    text: str
    labels: list[tuple[str, int, int]] = field(default_factory=list)


def _place(rng: random.Random, value: str, entity: str | None) -> Case:
    template = rng.choice(CONTEXTS)
    before = template.split("{}")[0]
    text = template.format(value)
    labels = [(entity, len(before), len(before) + len(value))] if entity else []
    return Case(text, labels)


def _group(digits: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        out.append(digits[i : i + s])
        i += s
    return sep.join(out)


def generate(seed: int = 2026, per_entity: int = 300) -> list[Case]:
    rng = random.Random(seed)
    Faker.seed(seed)
    fakers = {loc: Faker(loc) for loc in ["en_US", "de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT"]}
    us = fakers["en_US"]
    cases: list[Case] = []

    def add_many(entity: str, make: Callable[[], str | None]) -> None:
        made = 0
        while made < per_entity:
            v = make()
            if v:
                cases.append(_place(rng, v, entity))
                made += 1

    def email() -> str:
        return rng.choice([us.email, us.free_email, us.company_email, fakers["de_DE"].email])()

    def phone() -> str | None:
        loc = rng.choice(list(fakers))
        region = loc.split("_")[1].replace("UK", "GB")
        try:
            n = phonenumbers.parse(fakers[loc].phone_number(), region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(n):
            return None
        fmt = phonenumbers.PhoneNumberFormat
        if region == "US":
            return rng.choice(
                [
                    phonenumbers.format_number(n, fmt.NATIONAL),
                    phonenumbers.format_number(n, fmt.INTERNATIONAL),
                    phonenumbers.format_number(n, fmt.E164),
                    phonenumbers.format_number(n, fmt.NATIONAL).replace("(", "").replace(") ", "-"),
                ]
            )
        return rng.choice(
            [phonenumbers.format_number(n, fmt.INTERNATIONAL), phonenumbers.format_number(n, fmt.E164)]
        )

    def ssn() -> str | None:
        v = us.ssn()
        if not std_ssn.is_valid(v) or v.replace("-", "") in {
            "078051120",
            "219099999",
            "457555462",
            "123456789",
        }:
            return None
        return v if rng.random() < 0.7 else v.replace("-", " ")

    def card() -> str | None:
        kind = rng.choice(["visa16", "mastercard", "amex", "discover", "diners", "jcb16", "visa13"])
        digits = us.credit_card_number(kind)
        if not luhn.is_valid(digits):
            return None
        # Faker's JCB numbers use any "35" prefix; JCB's registered range is 3528-3589.
        if kind == "jcb16" and not 3528 <= int(digits[:4]) <= 3589:
            return None
        if kind == "amex":
            return _group(digits, [4, 6, 5], rng.choice([" ", "-", ""]))
        if len(digits) == 16:
            return _group(digits, [4, 4, 4, 4], rng.choice([" ", "-", ""]))
        return digits

    def iban() -> str | None:
        loc = rng.choice(["de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT"])
        v = fakers[loc].iban()
        if not std_iban.is_valid(v):
            return None
        return std_iban.format(v) if rng.random() < 0.5 else std_iban.compact(v)

    def ip() -> str:
        if rng.random() < 0.6:
            return us.ipv4()
        addr = ipaddress.IPv6Address(us.ipv6())
        return addr.compressed if rng.random() < 0.5 else addr.exploded

    def mac() -> str:
        v = us.mac_address()
        return rng.choice([v, v.upper(), v.replace(":", "-")])

    alnum = string.ascii_letters + string.digits

    def key() -> str:
        r = rng.random()
        tok = "".join(secrets.choice(alnum) for _ in range(40))
        if r < 0.2:
            return "sk-proj-" + tok
        if r < 0.35:
            return "sk-ant-api03-" + tok
        if r < 0.5:
            return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        if r < 0.65:
            return "ghp_" + tok[:36]
        if r < 0.75:
            return "xoxb-" + "".join(secrets.choice(string.digits) for _ in range(12)) + "-" + tok[:24]
        if r < 0.9:
            return "AIza" + tok[:35]
        return "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + tok

    for entity, make in [
        ("EMAIL", email),
        ("PHONE", phone),
        ("US_SSN", ssn),
        ("CREDIT_CARD", card),
        ("IBAN", iban),
        ("IP_ADDRESS", ip),
        ("MAC_ADDRESS", mac),
        ("API_KEY", key),
    ]:
        add_many(entity, make)

    def bad_card() -> str:
        d = us.credit_card_number("visa16")
        last = (int(d[-1]) + rng.randint(1, 9)) % 10
        bad = d[:-1] + str(last)
        assert not luhn.is_valid(bad)
        return _group(bad, [4, 4, 4, 4], " ")

    def bad_iban() -> str:
        v = std_iban.compact(fakers["de_DE"].iban())
        bad = v[:2] + f"{(int(v[2:4]) + rng.randint(1, 50)) % 100:02d}" + v[4:]
        return bad if not std_iban.is_valid(bad) else bad_iban()

    def bad_ssn() -> str:
        v = us.invalid_ssn()
        assert not std_ssn.is_valid(v)
        return v

    negatives: list[Callable[[], str]] = [
        bad_card,
        bad_iban,
        bad_ssn,
        lambda: f"Order #{rng.randint(10**7, 10**12)}",
        lambda: us.date(pattern=rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%m.%d.%Y", "%B %d, %Y"])),
        lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        lambda: f"{rng.getrandbits(160):040x}",
        lambda: f"{rng.getrandbits(256):064x}",
        lambda: f"v{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        lambda: f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}-beta",
        lambda: f"${rng.randint(1, 99_999):,}.{rng.randint(0, 99):02d}",
        lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        # Quantities and counts. (Space-separated 3-2-4 / 3-3-4 digit groups are NOT used:
        # written that way they are an SSN or a US phone number by any reading.)
        lambda: f"{rng.randint(1, 99)} boxes of {rng.randint(1, 999)} units, {rng.randint(1, 9999)} total",
    ]
    for _ in range(per_entity * 4):
        cases.append(_place(rng, rng.choice(negatives)(), None))
    rng.shuffle(cases)
    return cases


ENTITIES = ["EMAIL", "PHONE", "US_SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "MAC_ADDRESS", "API_KEY"]


def evaluate(
    scan: Callable[[str], list[tuple[str, int, int]]], cases: list[Case]
) -> dict[str, dict[str, float]]:
    """Per entity: a finding is a true positive if it overlaps a label of the same entity."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for case in cases:
        found = scan(case.text)
        matched: set[int] = set()
        for entity, start, end in found:
            hit = next(
                (
                    i
                    for i, (e, s, t) in enumerate(case.labels)
                    if e == entity and start < t and s < end and i not in matched
                ),
                None,
            )
            if hit is None:
                fp[entity] += 1
            else:
                matched.add(hit)
                tp[entity] += 1
        for i, (e, _, _) in enumerate(case.labels):
            if i not in matched:
                fn[e] += 1
    report = {}
    for e in ENTITIES:
        p = tp[e] / (tp[e] + fp[e]) if tp[e] + fp[e] else 1.0
        r = tp[e] / (tp[e] + fn[e]) if tp[e] + fn[e] else 1.0
        report[e] = {"precision": p, "recall": r, "tp": tp[e], "fp": fp[e], "fn": fn[e]}
    return report


def iron_cage_scan() -> Callable[[str], list[tuple[str, int, int]]]:
    import iron_cage as ic

    scanner = ic.PiiScanner(mode="warn", hmac_key=b"accuracy-suite-key")
    return lambda text: [(f.entity, f.start, f.end) for f in scanner.scan(text).findings]


def main() -> None:
    cases = generate()
    report = evaluate(iron_cage_scan(), cases)
    print(f"{len(cases)} cases (seed 2026, 300 positives per entity, {len(cases) - 2400} hard negatives)\n")
    print("| entity | precision | recall | TP | FP | FN |")
    print("|---|---|---|---|---|---|")
    for e, m in report.items():
        print(f"| {e} | {m['precision']:.4f} | {m['recall']:.4f} | {m['tp']} | {m['fp']} | {m['fn']} |")


if __name__ == "__main__":
    main()
