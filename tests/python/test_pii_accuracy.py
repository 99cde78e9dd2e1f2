"""Precision and recall per entity on the seeded oracle suites: >= 0.99 for every structured entity,
and the generated forms (national phones, SSN labels, IBANs of every country, internationalised
e-mail, network text, code) found whole or, for code, not at all."""

from __future__ import annotations

import random

import pytest
from stdnum import iban as std_iban

import iron_cage as ic
from pii_accuracy import (
    ENTITIES,
    evaluate,
    generate,
    generate_code,
    generate_forms,
    generate_network,
    iban_for,
    iban_registry,
    iron_cage_scan,
)


@pytest.mark.parametrize("seed", [2026, 7])
def test_precision_and_recall_per_entity(seed: int) -> None:
    report = evaluate(iron_cage_scan(), generate(seed=seed, per_entity=300))
    below = {
        e: (round(m["precision"], 4), round(m["recall"], 4))
        for e, m in report.items()
        if m["precision"] < 0.99 or m["recall"] < 0.99
    }
    assert below == {}
    assert {e for e, m in report.items() if m["tp"] >= 300} == set(ENTITIES), "every entity was exercised"


def test_hard_negatives_alone_produce_no_findings() -> None:
    scan = iron_cage_scan()
    negatives = [c for c in generate(seed=11, per_entity=100) if not c.labels]
    assert len(negatives) == 400
    false_positives = [(c.text, scan(c.text)) for c in negatives if scan(c.text)]
    assert false_positives == []


@pytest.mark.parametrize("seed", [2026, 7])
def test_the_forms_values_take_are_found_whole(seed: int) -> None:
    scan = iron_cage_scan()
    families = generate_forms(seed=seed, per_family=200)
    negatives = families.pop("hard negatives of these forms")
    below = {}
    for name, cases in families.items():
        for e, m in evaluate(scan, cases).items():
            if m["tp"] + m["fn"] + m["fp"] and min(m["precision"], m["recall"], m["whole"]) < 0.99:
                below[(name, e)] = (round(m["precision"], 4), round(m["recall"], 4), round(m["whole"], 4))
    assert below == {}
    assert len(negatives) == 400
    assert [(c.text, scan(c.text)) for c in negatives if scan(c.text)] == []


def test_an_iban_of_every_registry_country_in_every_layout() -> None:
    scan = iron_cage_scan()
    rng = random.Random(5)
    registry = iban_registry()
    assert len(registry) >= 89
    missed = []
    for cc, structure in registry:
        number = iban_for(rng, cc, structure)
        for layout in (number, std_iban.format(number), std_iban.format(number, "-")):
            text = f"pay to {layout}, thanks"
            if scan(text) != [("IBAN", 7, 7 + len(layout))]:
                missed.append(layout)
    assert missed == []


@pytest.mark.parametrize("seed", [2026, 7])
def test_network_text(seed: int) -> None:
    report = evaluate(iron_cage_scan(), generate_network(seed=seed, lines=300))
    assert report["IP_ADDRESS"]["tp"] > 200
    below = {
        e: (round(m["precision"], 4), round(m["recall"], 4), round(m["whole"], 4))
        for e, m in report.items()
        if min(m["precision"], m["recall"], m["whole"]) < 0.99
    }
    assert below == {}


@pytest.mark.parametrize("seed", [2026, 7])
def test_generated_code_has_no_false_findings(seed: int) -> None:
    scan = iron_cage_scan()
    cases = generate_code(seed=seed, snippets=400)
    false = [
        (c.text, c.text[s:t])
        for c in cases
        for e, s, t in scan(c.text)
        if not any(label == e and ls < t and s < lt for label, ls, lt in c.labels)
    ]
    assert false == []
    report = evaluate(scan, cases)
    assert all(m["recall"] == 1.0 and m["whole"] == 1.0 for m in report.values())


# The cases that set these rules, redacted as a prompt would be.
LISTED = [
    ("std::cout << x;", "std::cout << x;"),
    ("Foo::f(); ::C();", "Foo::f(); ::C();"),
    ("text2001:db8::1 and fe80::1text", "text2001:db8::1 and fe80::1text"),
    ("gggg:hhhh::1234 and 2001::db8::1", "gggg:hhhh::1234 and 2001::db8::1"),
    ("route 10.0.0.0/24 and 2001:db8::/32", "route [IP_ADDRESS_REDACTED] and [IP_ADDRESS_REDACTED]"),
    ("ping fe80::1%eth0 or [fe80::1%25eth0]", "ping [IP_ADDRESS_REDACTED] or [[IP_ADDRESS_REDACTED]]"),
    ("to user@mail.xn--80akhbyknj4f today", "to [EMAIL_REDACTED] today"),
    ("to user@xn--80akhbyknj4f.xn--p1ai today", "to [EMAIL_REDACTED] today"),
    ("LY38 1170 5000 0062 8318 5307 1", "[IBAN_REDACTED]"),
    ("DE89-3704-0044-0532-0130-00", "[IBAN_REDACTED]"),
    ("536.22.8726 or 536-22 8726", "[SSN_REDACTED] or [SSN_REDACTED]"),
    (
        "SSN 536228726; social security number: 536228726",
        "SSN [SSN_REDACTED]; social security number: [SSN_REDACTED]",
    ),
    ("call 1-800-555-0199", "call [PHONE_REDACTED]"),
    ("UK 020 7946 0958, FR 01 23 45 67 89", "UK [PHONE_REDACTED], FR [PHONE_REDACTED]"),
]


@pytest.mark.parametrize(("text", "redacted"), LISTED)
def test_listed_cases(text: str, redacted: str) -> None:
    assert ic.PiiScanner(hmac_key=b"0123456789abcdef-test").scan(text).text == redacted
