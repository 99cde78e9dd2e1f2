"""The iron-cage command line, run as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # A private IRON_CAGE_HOME: the demo's PII scanner creates its HMAC key there.
    env = {**os.environ, "IRON_CAGE_HOME": tempfile.mkdtemp(prefix="iron-cage-cli-")}
    return subprocess.run(
        [sys.executable, "-m", "iron_cage", *args], capture_output=True, text=True, check=False, env=env
    )


def test_demo_trips_the_breaker_warns_once_and_stops_before_overspending() -> None:
    out = run("demo")
    assert out.returncode == 0, out.stderr
    assert re.search(r"lead #\s*85: THRESHOLD 90% crossed", out.stdout), out.stdout
    assert re.search(r"lead #\s*34: CIRCUIT BREAKER linkedin closed -> open", out.stdout), out.stdout
    assert re.search(r"linkedin breaker: open, 5 failures, \d+ calls not made", out.stdout), out.stdout
    leak = re.search(r"lead #\s*67: PII REDACTED in the reply \(EMAIL, PHONE\): (.*)", out.stdout)
    assert leak is not None, out.stdout
    assert "[EMAIL_REDACTED]" in leak.group(1) and "[PHONE_REDACTED]" in leak.group(1)
    assert "@gmail.com" not in out.stdout and "555-2671" not in out.stdout
    assert "STOPPED before the call" in out.stdout
    m = re.search(
        r"spent \$([\d.]+) of \$([\d.]+) \(overspend \$0\.000000\); threshold events: 1", out.stdout
    )
    assert m is not None, out.stdout
    assert float(m.group(1)) <= float(m.group(2))
    # The budget was leased from the embedded Control Panel, which saw every call, exactly.
    assert "budget leased from the Control Panel" in out.stdout
    server = re.search(
        r"control panel: (\d+) calls reported, \$([\d.]+) spent of the \$([\d.]+) allocation, "
        r"\$0\.000000 still leased",
        out.stdout,
    )
    charged = re.search(r"LLM calls: (\d+) charged", out.stdout)
    assert server is not None and charged is not None, out.stdout
    assert (
        server.group(1) == charged.group(1)
        and server.group(2) == m.group(1)
        and server.group(3) == m.group(2)
    )
    assert re.search(r"control panel alert: .* budget \(90%\) -> Approve \$[\d.]+ increase", out.stdout)


def test_prices_shows_a_resolved_model() -> None:
    out = run("prices", "gpt-4o-mini-2024-07-18")
    assert out.returncode == 0
    assert "gpt-4o-mini-2024-07-18 (priced as gpt-4o-mini)" in out.stdout


def test_unknown_model_is_a_clean_error() -> None:
    out = run("prices", "gpt-4o-mnii")
    assert out.returncode == 2
    assert "Did you mean gpt-4o-mini" in out.stderr
    assert "Traceback" not in out.stderr
