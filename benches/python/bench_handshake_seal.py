"""What sealing the provider key adds to a handshake, on SQLite.

A real server process (`iron-cage control-panel serve`, one uvicorn worker, SQLite WAL) on
127.0.0.1 and a keep-alive httpx client in this process. Two agents with $1M each: one whose
provider has a key in the vault (the handshake decrypts it, seals it to the runtime's X25519 key
and writes the `seal` audit row), one whose provider has none (the same handshake, with the same
`key_exchange`, answers `provider_key_sealed: null`). Handshakes alternate between the two
(ABBA), so drift hits both alike; the client makes a fresh key pair for each, as the runtime
does, outside the timed span. Also timed: `sealing.seal()` alone, in this process.

Usage: bench_handshake_seal.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from iron_cage.control_panel.sealing import b64url, seal

# The throwaway-server helpers of the Control Panel tests (test code, not in the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))
from cp_server import ADMIN, start_server

QUICK = "--quick" in sys.argv
ROUNDS = 100 if QUICK else 1000


def exchange() -> dict[str, str]:
    public = X25519PrivateKey.generate().public_key().public_bytes_raw()
    return {"scheme": "x25519-hkdf-sha256-aes256gcm", "public_key": b64url(public)}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-seal-"))
    proc, port = start_server(f"sqlite:///{tmp / 'cp.db'}", tmp / "server.log")
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        with httpx.Client(timeout=60) as c:
            token = c.post(f"{base}/auth/login", json=ADMIN).json()["access_token"]
            admin = {"Authorization": f"Bearer {token}"}
            me = c.get(f"{base}/users/me", headers=admin).json()["id"]
            key = {
                "provider": "openai",
                "key": "sk-proj-" + "b" * 48,
                "base_url": "https://api.openai.com/v1",
            }
            assert c.post(f"{base}/providers/keys", headers=admin, json=key).status_code == 201
            tokens = {}
            for label, provider in (("sealed", "openai"), ("plain", "nokey")):
                body = {"name": label, "owner_id": me, "provider": provider, "budget_usd": 1_000_000}
                agent = c.post(f"{base}/agents", headers=admin, json=body).json()
                tokens[label] = c.post(f"{base}/agents/{agent['id']}/tokens", headers=admin, json={}).json()[
                    "token"
                ]
            times: dict[str, list[float]] = {"sealed": [], "plain": []}
            order = ["sealed", "plain", "plain", "sealed"]
            for i in range(2 * ROUNDS + 20):
                label = order[i % 4]
                body = {"requested_usd": "0.01", "key_exchange": exchange()}
                headers = {"Authorization": f"Bearer {tokens[label]}"}
                start = time.perf_counter()
                r = c.post(f"{base}/budget/handshake", json=body, headers=headers)
                elapsed = time.perf_counter() - start
                assert r.status_code == 201, r.text
                assert (r.json()["provider_key_sealed"] is not None) == (label == "sealed")
                if i >= 20:  # warm-up
                    times[label].append(elapsed * 1000)
    finally:
        proc.terminate()
        proc.wait(20)
    public = X25519PrivateKey.generate().public_key().public_bytes_raw()
    micro = []
    for _ in range(7):
        n = 2000 if QUICK else 20000
        start = time.perf_counter()
        for _ in range(n):
            seal(public, "sk-proj-" + "b" * 48, "lse_0123456789abcdefghijklmn")
        micro.append((time.perf_counter() - start) / n * 1e6)
    sealed, plain = times["sealed"], times["plain"]
    print(f"handshakes: {len(sealed)} sealed, {len(plain)} without a key, alternating (SQLite, one worker)")
    for label, values in (("sealed", sealed), ("no key", plain)):
        print(
            f"  {label:7} p50 {statistics.median(values):6.2f} ms   p90 {pct(values, 0.9):6.2f} ms   "
            f"p99 {pct(values, 0.99):6.2f} ms"
        )
    added = statistics.median(sealed) - statistics.median(plain)
    print(f"  sealing adds (difference of the medians): {added * 1000:+.0f} µs (target < 1 ms)")
    print(f"seal() alone, in-process: {statistics.median(micro):.1f} µs (median of 7 runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
