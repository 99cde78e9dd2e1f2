"""A test agent: plain openai client code (base URL and key from the environment).

``worker_agent.py N`` makes N chat calls (0: until stopped), a new client for each, and
reports progress and outcomes; AGENT_PAUSE seconds between calls; exits with AGENT_EXIT.
AGENT_PROMPT is the message sent (``{i}``: the call's number).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

import openai

import iron_cage as ic

n = int(sys.argv[1]) if len(sys.argv) > 1 else 0
pause = float(os.environ.get("AGENT_PAUSE", "0"))
prompt = os.environ.get("AGENT_PROMPT", "call {i}")
key = os.environ.get("OPENAI_API_KEY", "")
digest = hashlib.sha256(key.encode()).hexdigest()[:16]
print(f"argv={sys.argv[1:]} main={__name__} key_sha={digest}", flush=True)
i = 0
while n == 0 or i < n:
    i += 1
    client = openai.OpenAI(max_retries=0)
    try:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": prompt.replace("{i}", str(i))}],
            max_tokens=20,
        )
        print(f"call {i} ok", flush=True)
        ic.outcome(True)
    except ic.BudgetExceededError:
        print(f"call {i} refused: budget", flush=True)
        raise
    except Exception as exc:
        print(f"call {i} FAILED {type(exc).__name__}: {exc}", flush=True)
        ic.outcome(False)
    ic.progress(i, n or None, unit="leads")
    time.sleep(pause)
print("finished", flush=True)
sys.exit(int(os.environ.get("AGENT_EXIT", "0")))
