"""schemathesis against the published OpenAPI spec of a running server: no input yields a 500.

Two passes per backend: as an admin over every operation, and as an agent (IC token)
over the lease protocol. Seeded, so a failure reproduces.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .servers import ServerProcess


def schemathesis(server: ServerProcess, token: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server.url}/api/v1/openapi.json",
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "10",
        "--seed",
        "1",
        "--request-timeout",
        "30",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def test_no_generated_request_causes_a_server_error(database_url: str, tmp_path: Path) -> None:
    with ServerProcess(database_url, tmp_path, "cp-1", "--sweep-interval", "0") as server:
        admin, _agent, ic_token = server.new_agent("fuzzed", 100)
        for token, extra in [
            (admin["Authorization"].split()[1], ()),
            (ic_token, ("--include-path-regex", "/budget/")),
        ]:
            run = schemathesis(server, token, *extra)
            assert run.returncode == 0, run.stdout[-6000:]
            assert "Server error" not in run.stdout
        log = server.log_path.read_text()
        assert "Traceback" not in log, log[-4000:]
