"""cost_of against hand-computed bills for every usage shape, tiers, and price overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import iron_cage as ic


def bill(*terms: tuple[int, float]) -> float:
    """Hand-computed: sum of tokens * USD-per-1M, in exact micro-dollars, rounded up."""
    from decimal import ROUND_CEILING, Decimal

    total = sum(Decimal(tokens) * Decimal(str(price)) for tokens, price in terms) / Decimal(1_000_000)
    return float(total.quantize(Decimal("0.000001"), rounding=ROUND_CEILING))


CASES: list[tuple[str, str, dict[str, Any], str, float]] = [
    (
        "openai chat, cached tokens are part of prompt_tokens",
        "gpt-4o-2024-08-06",
        {
            "prompt_tokens": 1000,
            "completion_tokens": 300,
            "total_tokens": 1300,
            "prompt_tokens_details": {"cached_tokens": 400, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "standard",
        bill((600, 2.5), (400, 1.25), (300, 10.0)),
    ),
    (
        "o-series reasoning tokens are billed as output (already inside completion_tokens)",
        "o3",
        {
            "prompt_tokens": 2000,
            "completion_tokens": 5000,
            "completion_tokens_details": {"reasoning_tokens": 4000},
        },
        "standard",
        bill((2000, 2.0), (5000, 8.0)),
    ),
    (
        "responses api shape with cached input and reasoning",
        "gpt-5",
        {
            "input_tokens": 10_000,
            "input_tokens_details": {"cached_tokens": 8000},
            "output_tokens": 1200,
            "output_tokens_details": {"reasoning_tokens": 1000},
            "total_tokens": 11_200,
        },
        "standard",
        bill((2000, 1.25), (8000, 0.125), (1200, 10.0)),
    ),
    (
        "anthropic: input_tokens excludes cache reads and 5m/1h cache writes",
        "claude-sonnet-4-5-20250929",
        {
            "input_tokens": 50,
            "cache_read_input_tokens": 10_000,
            "cache_creation_input_tokens": 3000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
            "output_tokens": 500,
        },
        "standard",
        bill((50, 3.0), (10_000, 0.30), (1000, 3.75), (2000, 6.0), (500, 15.0)),
    ),
    (
        "anthropic: cache writes without a breakdown are 5-minute writes",
        "claude-haiku-4-5",
        {"input_tokens": 100, "cache_creation_input_tokens": 1000, "output_tokens": 10},
        "standard",
        bill((100, 1.0), (1000, 1.25), (10, 5.0)),
    ),
    (
        "claude 3 haiku's stated cache prices are used, not multipliers",
        "claude-3-haiku-20240307",
        {
            "input_tokens": 1000,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 1000,
            "output_tokens": 0,
        },
        "standard",
        bill((1000, 0.25), (1000, 0.03), (1000, 0.30)),
    ),
    (
        "batch tier is half price",
        "gpt-4o-mini",
        {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000},
        "batch",
        bill((1_000_000, 0.075), (1_000_000, 0.30)),
    ),
    (
        "priority tier with cached input",
        "gpt-4.1",
        {
            "prompt_tokens": 1_000_000,
            "prompt_tokens_details": {"cached_tokens": 500_000},
            "completion_tokens": 100_000,
        },
        "priority",
        bill((500_000, 3.5), (500_000, 0.875), (100_000, 14.0)),
    ),
    (
        "long-context rates above 200k input tokens",
        "claude-sonnet-4",
        {"input_tokens": 250_000, "output_tokens": 1000},
        "standard",
        bill((250_000, 6.0), (1000, 22.5)),
    ),
    (
        "rounds up to the next micro-dollar",
        "gpt-4o-mini",
        {"prompt_tokens": 1, "completion_tokens": 0},
        "standard",
        0.000001,
    ),
    (
        "embeddings",
        "text-embedding-3-small",
        {"prompt_tokens": 1000, "total_tokens": 1000},
        "standard",
        0.00002,
    ),
]


@pytest.mark.parametrize(("why", "model", "usage", "tier", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hand_computed_bills(why: str, model: str, usage: dict[str, Any], tier: str, expected: float) -> None:
    assert ic.cost_of(model, usage, tier=tier) == expected, why


def test_sdk_usage_objects_with_model_dump_are_accepted() -> None:
    class SdkUsage:  # the shape of openai/anthropic pydantic models
        def model_dump(self) -> dict[str, Any]:
            return {"prompt_tokens": 1000, "completion_tokens": 0, "prompt_tokens_details": None}

    assert ic.cost_of("gpt-4o", SdkUsage()) == bill((1000, 2.5))


@pytest.mark.parametrize(
    ("usage", "needle"),
    [
        ({}, "no token counts found"),
        ({"prompt_tokens": -1}, "negative"),
        ({"prompt_tokens": "12"}, "integers"),
        ({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}, "exceeds prompt_tokens"),
        (
            {"completion_tokens": 5, "completion_tokens_details": {"reasoning_tokens": 6}},
            "exceeds completion_tokens",
        ),
        ([1, 2], "usage object"),
    ],
)
def test_bad_usage_is_a_clear_config_error(usage: object, needle: str) -> None:
    with pytest.raises(ic.ConfigError, match=needle):
        ic.cost_of("gpt-4o", usage)


def test_unknown_model_names_close_matches() -> None:
    with pytest.raises(ic.ConfigError) as info:
        ic.cost_of("claude-sonet-4-5", {"input_tokens": 1, "output_tokens": 1})
    assert info.value.model == "claude-sonet-4-5"
    assert info.value.suggestions[0] == "claude-sonnet-4-5"
    assert "IRON_CAGE_PRICES" in str(info.value)


def test_unpriced_tier_and_unknown_tier() -> None:
    with pytest.raises(ic.ConfigError, match="no priority price"):
        ic.cost_of("claude-opus-4-5", {"input_tokens": 1, "output_tokens": 1}, tier="priority")
    with pytest.raises(ic.ConfigError, match="unknown service tier"):
        ic.cost_of("gpt-4o", {"prompt_tokens": 1}, tier="gold")


def test_default_price_covers_unknown_models() -> None:
    table = ic.PriceTable.embedded().with_default(1.0, 2.0)
    assert (
        table.cost_of("my-local-llama", {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}) == 3.0
    )
    assert ic.cost_of("gpt-4o", {"prompt_tokens": 1000}, prices=table) == 0.0025


def test_overrides_from_toml_and_json_files(tmp_path: Path) -> None:
    toml = tmp_path / "prices.toml"
    toml.write_text(
        'version = "acme-2026"\n[models."acme-llm"]\nprovider = "openai"\ninput = 4\noutput = 8\n'
    )
    t = ic.PriceTable.from_file(toml)
    assert t.version == f"{ic.PRICE_TABLE_VERSION}+acme-2026"
    assert t.cost_of("acme-llm", {"prompt_tokens": 1_000_000, "completion_tokens": 0}) == 4.0
    assert t.cost_of("gpt-4o", {"prompt_tokens": 1_000_000}) == 2.5, "embedded models remain"
    js = tmp_path / "prices.json"
    js.write_text(json.dumps({"models": {"gpt-4o": {"provider": "openai", "input": 1.0, "output": 1.0}}}))
    assert ic.PriceTable.from_file(js).cost_of("gpt-4o", {"prompt_tokens": 1_000_000}) == 1.0
    only = ic.PriceTable.from_file(js, merge_embedded=False)
    assert only.models() == ["gpt-4o"]


@pytest.mark.parametrize(
    ("content", "suffix", "needle"),
    [
        ("[models.x]\ninput = 1\n", ".toml", 'no "output" price'),
        ('{"models": {"x": {"input": 1, "output": 1, "provider": "acme"}}}', ".json", "unknown provider"),
        ("{not json", ".json", "invalid price table"),
        ("", ".yaml", "must end in .json or .toml"),
    ],
)
def test_bad_price_files(tmp_path: Path, content: str, suffix: str, needle: str) -> None:
    f = tmp_path / f"p{suffix}"
    f.write_text(content)
    with pytest.raises(ic.ConfigError, match=needle):
        ic.PriceTable.from_file(f)


def test_use_prices_switches_the_process_table() -> None:
    custom = ic.PriceTable.from_dict(
        {"models": {"gpt-4o": {"provider": "openai", "input": 100, "output": 100}}}
    )
    try:
        ic.use_prices(custom)
        assert ic.cost_of("gpt-4o", {"prompt_tokens": 10_000}) == 1.0
    finally:
        ic.use_prices(None)
    assert ic.cost_of("gpt-4o", {"prompt_tokens": 10_000}) == 0.025


def test_iron_cage_prices_env_var(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("[models.house-model]\ninput = 2\noutput = 2\n")
    code = "import iron_cage as ic; print(ic.cost_of('house-model', {'prompt_tokens': 500000}))"
    env = {**os.environ, "IRON_CAGE_PRICES": str(f)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1.0"
    env["IRON_CAGE_PRICES"] = str(tmp_path / "missing.toml")
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "IRON_CAGE_PRICES" in bad.stderr and "cannot read" in bad.stderr


def test_price_lookup_reports_resolved_model() -> None:
    p = ic.active_price_table().price("anthropic.claude-3-5-haiku-20241022-v1:0")
    assert p["model"] == "claude-3-5-haiku" and p["provider"] == "anthropic"
    assert p["standard"]["cache_write_1h"] == 1.6 and p["batch"]["output"] == 2.0
