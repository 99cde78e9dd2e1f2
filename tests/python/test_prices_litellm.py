"""The embedded price table against LiteLLM's bundled price map, model by model.

LiteLLM (installed without its dependencies by `make setup`, only for this file)
ships `model_prices_and_context_window_backup.json`. Every model both tables know
is compared rate by rate, as each table resolves it; every difference must be
explained in docs/prices-vs-litellm.md, and an explanation of a difference that no
longer exists is reported too, so the document stays true.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

import iron_cage as ic

DOC = Path(__file__).resolve().parents[2] / "docs" / "prices-vs-litellm.md"
FIELDS = (
    "input",
    "output",
    "cached_input",
    "cache_write_5m",
    "cache_write_1h",
    "audio_input",
    "audio_output",
)


def litellm_map() -> Path:
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.origin is not None, "make setup installs litellm (without dependencies)"
    path = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    assert path.exists(), path
    return path


def flatten(price: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "context_window": price["context_window"],
        "max_output_tokens": price["max_output_tokens"],
    }
    for tier in ("standard", "batch", "priority", "long_context"):
        rates = price.get(tier)
        # A tier one table offers and the other does not is one difference, not one per rate.
        out[tier] = "offered" if rates is not None else "not offered"
        if rates is not None:
            out.update({f"{tier}.{f}": rates[f] for f in (*FIELDS, "threshold") if f in rates})
    return out


def differences() -> set[tuple[str, str]]:
    ours = ic.PriceTable.embedded()
    theirs = ic.PriceTable.from_file(litellm_map(), merge_embedded=False)
    known = set(theirs.models())
    diffs: set[tuple[str, str]] = set()
    for model in ours.models():
        if model not in known:
            continue
        a, b = flatten(ours.price(model)), flatten(theirs.price(model))
        for field in a.keys() & b.keys():
            x, y = a[field], b[field]
            same = x == y if not isinstance(x, float) or not isinstance(y, float) else abs(x - y) < 1e-9
            if not same:
                diffs.add((model, field))
    return diffs


def explained() -> set[tuple[str, str]]:
    rows = re.findall(r"^\| (`[^|]*`) \| (`[^|]*`) \|", DOC.read_text(), flags=re.MULTILINE)
    out: set[tuple[str, str]] = set()
    for models, fields in rows:
        for m in re.findall(r"`([^`]+)`", models):
            for f in re.findall(r"`([^`]+)`", fields):
                out.add((m, f))
    return out


def test_both_tables_share_most_models() -> None:
    ours = set(ic.PriceTable.embedded().models())
    theirs = set(ic.PriceTable.from_file(litellm_map(), merge_embedded=False).models())
    # Most names are the same in both; Claude 3.x is named by snapshot there.
    assert len(ours & theirs) >= 0.75 * len(ours), sorted(ours - theirs)


def test_every_difference_from_litellm_is_explained() -> None:
    diffs, why = differences(), explained()
    unexplained = sorted(diffs - why)
    stale = sorted(why - diffs)
    if unexplained or stale:
        pytest.fail(
            f"unexplained differences (add them to {DOC.name}): {unexplained}\nno longer different: {stale}"
        )
