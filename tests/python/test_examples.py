"""Every example in examples/ runs to completion against FakeProvider (no keys, no network)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("[0-9]*.py"))


def test_there_are_at_least_twenty() -> None:
    assert len(SCRIPTS) >= 20, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env["IRON_CAGE_HOME"] = tempfile.mkdtemp(prefix="iron-cage-example-")
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    out = subprocess.run(
        [sys.executable, script],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert out.stdout.strip(), "an example says what it did"
    assert "@example.com" not in out.stdout and "555-2671" not in out.stdout, "no PII reaches the output"
