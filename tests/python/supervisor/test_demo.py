"""The supervised demo end to end: the same triggers at the same leads, run after run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[3]


def _demo(*args: str) -> str:
    home = tempfile.mkdtemp(prefix="iron-cage-demo-test-")
    env = {**os.environ, "IRON_CAGE_HOME": home, "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "iron_cage", "demo", "--supervised", "--rate", "1000", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
        check=False,
    )
    text = out.stdout + out.stderr
    assert "stopped before the call" in text, text
    return text


def _moments(text: str) -> tuple[str, str, str]:
    breaker = re.search(r"circuit breaker linkedin closed -> open at lead #(\d+)", text)
    pii = re.search(r"PII redacted in a reply at lead #(\d+) \(EMAIL, PHONE\)", text)
    budget = re.search(r"budget 90% crossed at lead #(\d+): \$([\d.,]+) of \$[\d.]+ spent; recommended", text)
    assert breaker and pii and budget, text
    return breaker.group(1), pii.group(1), budget.group(1)


def test_the_default_demo_shows_the_three_moments_and_never_overspends() -> None:
    text = _demo()
    assert _moments(text) == ("34", "67", "85")
    assert "@gmail.com" not in text and "555-2671" not in text
    spent = re.search(r"control panel: (\d+) calls, \$([\d.]+) spent of \$50\.00, 2 PII findings", text)
    assert spent is not None, text
    assert float(spent.group(2)) <= 50.0
    assert re.search(r"control panel alert: .*\(90%\) -> Approve \$\d+ increase", text), text
    assert "sk-demo-" not in text  # the agent's key came from the Control Panel, unseen


def test_a_trigger_too_early_for_the_budget_is_a_clear_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "iron_cage", "demo", "--supervised", "--triggers", "budget=9"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and "use a later lead or a smaller --budget" in out.stderr


def test_ten_runs_fire_the_configured_triggers_at_the_same_leads() -> None:
    seen = {_moments(_demo("--budget", "5", "--triggers", "linkedin=4,pii=6,budget=9")) for _ in range(10)}
    assert seen == {("4", "6", "9")}
