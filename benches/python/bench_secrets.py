"""Secrets from Python: unlock (Argon2id, once per process) and decrypting a 64-byte secret.

Run: make bench-python   (or: .venv/bin/python benches/python/bench_secrets.py)
"""

from __future__ import annotations

import statistics
import time

from timing import per_call_ns

import iron_cage as ic

KEY = "correct horse battery staple"


def main() -> None:
    unlocks = []
    for _ in range(5):
        t0 = time.perf_counter()
        cipher = ic.SecretCipher(KEY)
        unlocks.append(time.perf_counter() - t0)
    blob = cipher.encrypt("OPENAI_API_KEY", "k" * 64, version=3, secret_id="5f0c2a")

    def decrypt() -> None:
        cipher.decrypt("OPENAI_API_KEY", blob, version=3, secret_id="5f0c2a")

    print("| operation | time |")
    print("|---|---|")
    print(f"| SecretCipher(master_key) unlock, median of 5 | {statistics.median(unlocks) * 1000:.1f} ms |")
    print(f"| SecretCipher.decrypt, 64-byte secret | {per_call_ns(decrypt) / 1000:.2f} µs |")


if __name__ == "__main__":
    main()
