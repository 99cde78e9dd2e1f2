"""Precision and recall per entity on the seeded oracle suite: >= 0.99 for every structured entity."""

from __future__ import annotations

import pytest

from pii_accuracy import ENTITIES, evaluate, generate, iron_cage_scan


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
