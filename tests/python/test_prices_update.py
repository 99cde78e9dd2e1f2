"""Current models, fine-tunes, LiteLLM price maps, the unknown-model policy, and
`iron-cage prices`, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import iron_cage as ic


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iron_cage", "prices", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def litellm_map(tmp_path: Path) -> Path:
    """A small map in LiteLLM's format (made here, prices per token)."""
    doc = {
        "sample_spec": {"litellm_provider": "one of the providers", "input_cost_per_token": 0},
        "acme-gpt-9": {
            "litellm_provider": "openai",
            "mode": "chat",
            "input_cost_per_token": 3e-06,
            "output_cost_per_token": 1.2e-05,
            "cache_read_input_token_cost": 3e-07,
            "input_cost_per_token_above_200k_tokens": 6e-06,
            "output_cost_per_token_above_200k_tokens": 1.8e-05,
            "max_input_tokens": 400_000,
            "max_output_tokens": 64_000,
        },
        "acme-image-9": {
            "litellm_provider": "openai",
            "mode": "image_generation",
            "input_cost_per_pixel": 1e-8,
        },
    }
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(doc))
    return path


def test_current_models_and_fine_tunes_are_priced() -> None:
    for model in (
        "gpt-5.4",
        "gpt-5.5",
        "gpt-6-sol",
        "claude-opus-4-7",
        "claude-sonnet-5",
        "claude-haiku-5-5",
    ):
        assert ic.cost_of(model, {"input_tokens": 1000, "output_tokens": 100}) > 0, model
    # gpt-5.4 bills input over 272k tokens at its long-context rate.
    long = ic.cost_of("gpt-5.4", {"input_tokens": 300_000, "output_tokens": 0})
    assert long == pytest.approx(300_000 * 5.0e-6)
    fine_tuned = "ft:gpt-4o-mini-2024-07-18:acme:support-bot:9xYz12"
    assert ic.PriceTable.embedded().price(fine_tuned)["model"] == "ft:gpt-4o-mini"
    assert ic.cost_of(fine_tuned, {"prompt_tokens": 1_000_000, "completion_tokens": 0}) == pytest.approx(0.30)
    with pytest.raises(ic.ConfigError, match="prices import"):
        ic.cost_of("ft:davinci-002:acme::x", {"prompt_tokens": 1})


def test_a_litellm_map_is_read_as_published(tmp_path: Path) -> None:
    table = ic.PriceTable.from_file(litellm_map(tmp_path))
    assert table.price("acme-gpt-9")["standard"]["input"] == 3.0
    assert table.price("acme-gpt-9")["long_context"]["threshold"] == 200_000
    assert table.price("gpt-4o")["standard"]["input"] == 2.5, "merged over the embedded table"
    with pytest.raises(ic.ConfigError):
        table.price("acme-image-9")  # image models are not text models
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import iron_cage as ic; print(ic.cost_of('acme-gpt-9', {'prompt_tokens': 100000}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "IRON_CAGE_PRICES": str(litellm_map(tmp_path))},
    )
    assert float(out.stdout) == pytest.approx(0.3)


def test_unknown_models_are_refused_unless_a_policy_says_otherwise() -> None:
    table = ic.PriceTable.embedded()
    with pytest.raises(ic.ConfigError, match="IRON_CAGE_UNKNOWN_MODEL=price_as"):
        table.price("my-company-llm")
    priced = table.with_unknown_model("price_as:gpt-4o-mini")
    assert priced.cost_of("my-company-llm", {"prompt_tokens": 1_000_000}) == pytest.approx(0.15)
    with pytest.raises(ic.ConfigError, match="refuse"):
        table.with_unknown_model("guess")
    with pytest.raises(ic.ConfigError, match="unknown model"):
        table.with_unknown_model("price_as:no-such-model")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import iron_cage as ic; print(ic.cost_of('my-llm', {'prompt_tokens': 1000000}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "IRON_CAGE_UNKNOWN_MODEL": "price_as:gpt-4o"},
    )
    assert float(out.stdout) == pytest.approx(2.5)


def test_the_prices_command(tmp_path: Path) -> None:
    shown = cli("gpt-4o-mini-2024-07-18")
    assert shown.returncode == 0, shown.stderr
    assert "priced as gpt-4o-mini" in shown.stdout and "in $0.15, out $0.6" in shown.stdout
    assert json.loads(cli("show", "claude-opus-4-6", "--json").stdout)["model"] == "claude-opus-4-6"
    listed = cli("list")
    assert listed.returncode == 0 and "gpt-5.5" in listed.stdout and "claude-sonnet-5" in listed.stdout
    unknown = cli("gpt-4o-mnii")
    assert unknown.returncode == 2 and "Did you mean gpt-4o-mini" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    out = tmp_path / "prices.json"
    imported = cli("import", str(litellm_map(tmp_path)), "-o", str(out))
    assert imported.returncode == 0, imported.stderr
    assert "wrote 1 models" in imported.stdout and f"IRON_CAGE_PRICES={out}" in imported.stdout
    assert json.loads(out.read_text())["models"]["acme-gpt-9"]["input"] == 3.0
    checked = cli("check", str(out))
    assert checked.returncode == 0 and "1 models" in checked.stdout
    active = cli("check", IRON_CAGE_PRICES=str(out), IRON_CAGE_UNKNOWN_MODEL="price_as:gpt-4o")
    assert str(out) in active.stdout and "price_as:gpt-4o" in active.stdout
    bad = tmp_path / "not-a-map.json"
    bad.write_text(json.dumps({"hello": 1}))
    refused = cli("import", str(bad))
    assert refused.returncode == 2 and "not a LiteLLM price map" in refused.stderr
