"""A test agent that behaves like any script: prints argv and __name__, echoes stdin, exits."""

from __future__ import annotations

import sys

print(f"argv={sys.argv!r} name={__name__}", flush=True)
for line in sys.stdin:
    print(f"echo {line.strip()}", flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
