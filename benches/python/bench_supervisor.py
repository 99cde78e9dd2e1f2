"""The supervisor: time from `iron-cage start` to the agent's first line, restart time after
kill -9 of the agent (to the new process and to its first line), and the supervisor's RSS.

    .venv/bin/python benches/python/bench_supervisor.py [RUNS]
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENT = """
import sys, time
print("first line", flush=True)
while True:
    time.sleep(0.05)
"""


def _status(home: Path, agent_id: str) -> dict[str, object]:
    for _ in range(50):
        try:
            data: dict[str, object] = json.loads((home / "agents" / agent_id / "status.json").read_text())
            return data
        except (ValueError, FileNotFoundError):
            time.sleep(0.01)
    raise RuntimeError("no status")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_once(tmp: Path) -> tuple[float, float, float, int]:
    home = tmp / "home"
    script = tmp / "bench_agent.py"
    script.write_text(AGENT)
    env = {**os.environ, "IRON_CAGE_HOME": str(home), "NO_COLOR": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "iron_cage", "start", "--budget", "1", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == "first line"
    first_line = time.monotonic() - t0
    agent_id = proc.stderr.readline().split()[2]
    st = _status(home, agent_id)
    old = int(st["pid"])  # type: ignore[call-overload]
    rss = _rss_kib(proc.pid)
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)
    while True:
        st = _status(home, agent_id)
        if st.get("restarts") == 1 and st.get("pid") not in (None, old):
            break
        time.sleep(0.005)
    respawned = time.monotonic() - killed
    assert proc.stdout.readline().strip() == "first line"
    restarted_line = time.monotonic() - killed
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    return first_line, respawned, restarted_line, rss


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run_once(Path(tmp)))
    cols = list(zip(*results, strict=True))
    med = [statistics.median(c) for c in cols]
    print(f"runs: {runs} (median, min-max)")

    def ms(i: int) -> str:
        return f"{med[i] * 1000:.0f} ms ({min(cols[i]) * 1000:.0f}-{max(cols[i]) * 1000:.0f})"

    print(f"start -> agent's first line: {ms(0)}")
    print(f"kill -9 -> new agent process: {ms(1)}")
    print(f"kill -9 -> its first line: {ms(2)}")
    print(f"supervisor RSS: {med[3] / 1024:.1f} MiB ({min(cols[3]) / 1024:.1f}-{max(cols[3]) / 1024:.1f})")


if __name__ == "__main__":
    main()
