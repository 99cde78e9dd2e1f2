"""``iron_cage.testing`` in an installation without the compiled Rust core.

A copy of the package without ``_core`` (the extension file left out) goes first on
PYTHONPATH of a fresh pytest process, which runs ``test_mock_runtime_modes.py``: the
pytest plugin loads, the pure-Python MockRuntime, helpers and ``mock_runtime`` fixture
pass the shared tests, and the production names raise instead of running ungoverned.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import iron_cage

REPO = Path(__file__).parents[2]
SHARED = "tests/python/test_mock_runtime_modes.py"


def test_the_testing_suite_passes_without_the_extension(tmp_path: Path) -> None:
    package = Path(iron_cage.__file__).parent
    site = tmp_path / "site"
    shutil.copytree(
        package,
        site / "iron_cage",
        ignore=shutil.ignore_patterns("_core.*.so", "_core.*.pyd", "_core.so", "__pycache__", "static"),
    )
    assert not list((site / "iron_cage").glob("_core*.so"))
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", SHARED],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "test_production_names_raise_instead_of_running_ungoverned PASSED" in out, out
    passed = re.findall(r"::(\S+) PASSED", out)
    assert sum("[pure]" in name for name in passed) >= 7, out
    assert not any("[core]" in name for name in passed), out
    assert "FAILED" not in out and "ERROR" not in out, out
