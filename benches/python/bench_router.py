"""Router added latency with the LiteLLM proxy as the peer, in one run.

Starts `iron-cage fake-provider` and a LiteLLM proxy (its own venv, see
`make bench-router`) pointing at it, then runs the Rust router bench against
both. Usage: bench_router.py LITELLM_BINARY
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MASTER_KEY = "sk-bench-master-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not come up within {seconds:.0f}s")


def main() -> int:
    litellm = sys.argv[1]
    fake_port, peer_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{fake_port}/v1"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "litellm.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: gpt-4o-mini\n"
            "    litellm_params:\n"
            "      model: openai/gpt-4o-mini\n"
            f"      api_base: {upstream}\n"
            "      api_key: fake\n"
            "litellm_settings:\n  telemetry: false\n"
            f"general_settings:\n  master_key: {MASTER_KEY}\n"
        )
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
        fake = subprocess.Popen(
            [sys.executable, "-m", "iron_cage", "fake-provider", "--port", str(fake_port)],
            stdout=subprocess.DEVNULL,
        )
        peer = subprocess.Popen(
            [litellm, "--config", str(config), "--port", str(peer_port), "--num_workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_http(f"{upstream}/models")
            wait_http(f"http://127.0.0.1:{peer_port}/health/liveliness")
            bench_env = dict(
                os.environ,
                IRON_CAGE_BENCH_UPSTREAM=upstream,
                IRON_CAGE_BENCH_PEER=f"http://127.0.0.1:{peer_port}/v1",
                IRON_CAGE_BENCH_PEER_KEY=MASTER_KEY,
            )
            print(f"LiteLLM proxy (one worker) and FakeProvider at {upstream}")
            return subprocess.call(
                ["cargo", "bench", "-q", "-p", "iron_cage_benches", "--bench", "router"], env=bench_env
            )
        finally:
            for proc in (peer, fake):
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
