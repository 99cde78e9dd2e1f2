"""The router's memory: resident size of `iron-cage router` at idle and after calls for an
o200k model and a cl100k model (FakeProvider upstream), and what each part of a process
costs when loaded one after another in this interpreter.

    .venv/bin/python benches/python/bench_router_rss.py [CALLS]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

CLI = Path(sys.executable).with_name("iron-cage")


def rss_mib(pid: int | str = "self") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def router(calls: int) -> None:
    import openai

    from iron_cage.testing import FakeProvider

    with FakeProvider() as fake:
        proc = subprocess.Popen(
            [str(CLI), "router", "--port", "0", "--budget", "100", "--upstream", fake.base_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "OPENAI_API_KEY": "k"},
        )
        assert proc.stdout is not None
        base = key = ""
        for line in proc.stdout:
            if "OPENAI_BASE_URL=" in line:
                base = line.strip().split("=", 1)[1]
            if "OPENAI_API_KEY=" in line:
                key = line.strip().split("=", 1)[1]
            if "governing" in line:
                break
        time.sleep(3)  # settle; the tokenizer tables load on the first call that counts
        print(f"router idle: {rss_mib(proc.pid):.1f} MiB")
        client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
        for model in ("gpt-4o-mini", "gpt-4"):
            for i in range(calls):
                client.chat.completions.create(
                    model=model, max_tokens=20, messages=[{"role": "user", "content": f"hello {i} " * 50}]
                )
            print(f"router after {calls} calls of {model}: {rss_mib(proc.pid):.1f} MiB")
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def parts() -> None:
    steps: list[tuple[str, float]] = [("python", rss_mib())]
    import iron_cage as ic

    steps.append(("import iron_cage", rss_mib()))
    import iron_cage.cli

    steps.append(("import the CLI (click, rich)", rss_mib()))
    ic.PiiScanner(mode="redact").scan("mail a@b.com, card 4111 1111 1111 1111")
    steps.append(("the PII scanner", rss_mib()))
    ic.count_tokens("gpt-4o-mini", "hello world")
    steps.append(("o200k_base token tables", rss_mib()))
    ic.count_tokens("gpt-4", "hello world")
    steps.append(("cl100k_base token tables", rss_mib()))
    last = 0.0
    for name, mib in steps:
        print(f"{name:32} {mib:6.1f} MiB  (+{mib - last:.1f})")
        last = mib


if __name__ == "__main__":
    if sys.argv[1:] == ["--parts"]:
        parts()  # in a fresh interpreter: nothing loaded before
    else:
        router(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
        subprocess.run([sys.executable, __file__, "--parts"], check=True)
