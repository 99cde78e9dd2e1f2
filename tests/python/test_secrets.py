"""SecretCipher and SecretVault: round trips, tampering, wrong keys, rotation, audit, no leaked plaintext."""

from __future__ import annotations

import base64
import io
import logging
import sqlite3
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import iron_cage as ic

KEY = "correct horse battery staple"
VALUE = "sk-proj-0123456789abcdefXYZ-very-secret"


@pytest.fixture(scope="module")
def cipher() -> ic.SecretCipher:
    return ic.SecretCipher(KEY)


def raw(blob: str) -> bytearray:
    body = blob.removeprefix("v1:")
    return bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def cooked(data: bytes | bytearray) -> str:
    return "v1:" + base64.urlsafe_b64encode(bytes(data)).decode().rstrip("=")


def test_round_trip_with_fresh_salts_and_nonces(cipher: ic.SecretCipher) -> None:
    blobs = [cipher.encrypt("openai", VALUE) for _ in range(20)]
    assert len(set(blobs)) == 20
    salts_and_nonces = {bytes(raw(b)[4:32]) for b in blobs}
    assert len(salts_and_nonces) == 20, "every encryption draws its own 16-byte salt and 12-byte nonce"
    assert {cipher.decrypt("openai", b) for b in blobs} == {VALUE}


@given(position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_flipping_any_bit_of_a_blob_fails(position: int, bit: int) -> None:
    c = ic.SecretCipher(KEY)
    data = raw(c.encrypt("openai", VALUE))
    data[position % len(data)] ^= 1 << bit
    with pytest.raises(ic.SecretError):
        c.decrypt("openai", cooked(data))


def test_blobs_do_not_move_between_secrets_versions_or_environments(cipher: ic.SecretCipher) -> None:
    blob = cipher.encrypt("openai", VALUE, environment="production", version=3, secret_id="s1")
    assert cipher.decrypt("openai", blob, environment="production", version=3, secret_id="s1") == VALUE
    for kwargs in (
        {"version": 4, "environment": "production", "secret_id": "s1"},
        {"version": 3, "environment": "staging", "secret_id": "s1"},
        {"version": 3, "environment": "production", "secret_id": "s2"},
    ):
        with pytest.raises(ic.SecretError, match="altered or moved"):
            cipher.decrypt("openai", blob, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ic.SecretError, match="altered or moved"):
        cipher.decrypt("anthropic", blob, version=3, secret_id="s1")


def test_wrong_key_says_so(cipher: ic.SecretCipher) -> None:
    blob = cipher.encrypt("openai", VALUE)
    with pytest.raises(ic.SecretError, match="different master key"):
        ic.SecretCipher("another master key, long enough").decrypt("openai", blob)


@pytest.mark.parametrize("key", ["", "short"])
def test_weak_keys_are_config_errors(key: str) -> None:
    with pytest.raises(ic.ConfigError, match="generate-master-key"):
        ic.SecretCipher(key)


def test_vault_lifecycle(tmp_path: Path) -> None:
    v = ic.SecretVault(tmp_path / "v.db", KEY, keep_versions=2)
    assert v.put("OPENAI_API_KEY", VALUE) == 1
    assert v.put("OPENAI_API_KEY", VALUE + "-2") == 2
    assert v.put("OPENAI_API_KEY", VALUE + "-3") == 3
    assert v.get("OPENAI_API_KEY") == VALUE + "-3"
    assert v.get("OPENAI_API_KEY", version=2) == VALUE + "-2"
    assert [h[0] for h in v.history("OPENAI_API_KEY")] == [3, 2]
    v.put("OPENAI_API_KEY", "sk-dev-key-for-local-use", environment="development")
    listed = v.list(environment="production")
    assert [(s["name"], s["version"], s["masked"]) for s in listed] == [
        ("OPENAI_API_KEY", 3, "sk-proj-012...t-3")
    ]
    v.delete("OPENAI_API_KEY")
    with pytest.raises(ic.SecretError, match="no secret"):
        v.get("OPENAI_API_KEY")
    assert v.get("OPENAI_API_KEY", environment="development") == "sk-dev-key-for-local-use"
    v.undelete("OPENAI_API_KEY")
    assert v.get("OPENAI_API_KEY") == VALUE + "-3"
    with pytest.raises(ic.ConfigError, match="environment"):
        v.put("X", "y", environment="prod")


def test_missing_and_wrong_master_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IRON_SECRETS_MASTER_KEY", raising=False)
    with pytest.raises(ic.ConfigError, match="generate-master-key"):
        ic.SecretVault(tmp_path / "v.db")
    monkeypatch.setenv("IRON_SECRETS_MASTER_KEY", KEY)
    ic.SecretVault(tmp_path / "v.db").put("A", VALUE)
    with pytest.raises(ic.SecretError, match="cannot be unlocked with this master key"):
        ic.SecretVault(tmp_path / "v.db", "not the key this vault was made with")


def test_rotation_keeps_every_secret_and_retires_the_old_key(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    v = ic.SecretVault(path, KEY)
    names = [f"KEY_{i}" for i in range(5)]
    for n in names:
        v.put(n, f"{VALUE}-{n}")
        v.put(n, f"{VALUE}-{n}-v2", environment="staging")
    new_key = ic.generate_master_key()
    assert v.rotate_master_key(new_key) == 10
    reopened = ic.SecretVault(path, new_key)
    assert [reopened.get(n) for n in names] == [f"{VALUE}-{n}" for n in names]
    assert reopened.verify() == []
    with pytest.raises(ic.SecretError):
        ic.SecretVault(path, KEY)


def test_audit_survives_raw_sql(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    v = ic.SecretVault(path, KEY, role="agent", agent_id="lead-gen")
    v.put("A", VALUE)
    v.get("A")
    with pytest.raises(ic.SecretError):
        v.get("B")
    before = v.audit()
    assert [(r["secret_name"], r["operation"], r["success"], r["agent_id"]) for r in before] == [
        ("A", "create", True, "lead-gen"),
        ("A", "read", True, "lead-gen"),
        ("B", "read", False, "lead-gen"),
    ]
    db = sqlite3.connect(path)
    for sql in (
        "UPDATE secret_audit SET success = 1",
        "DELETE FROM secret_audit",
        "UPDATE secret_audit SET agent_id = 'x'",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()
    assert v.audit() == before


def test_tampered_row_is_named_by_verify(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    v = ic.SecretVault(path, KEY)
    v.put("A", VALUE)
    v.put("B", "another-secret-value")
    db = sqlite3.connect(path)
    db.execute("UPDATE secrets SET blob = (SELECT blob FROM secrets WHERE name = 'B') WHERE name = 'A'")
    db.commit()
    db.close()
    failures = v.verify()
    assert [(f[0], f[2]) for f in failures] == [("A", 1)]
    with pytest.raises(ic.SecretError, match='"A" failed to verify'):
        v.get("A")


def test_no_plaintext_reaches_logs_reprs_errors_or_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    out, err = io.StringIO(), io.StringIO()
    path = tmp_path / "v.db"
    with redirect_stdout(out), redirect_stderr(err):
        c = ic.SecretCipher(KEY)
        blob = c.encrypt("openai", VALUE)
        seen += [repr(c), blob]
        v = ic.SecretVault(path, KEY)
        v.put("OPENAI_API_KEY", VALUE)
        seen += [repr(v), str(v.list()), str(v.history("OPENAI_API_KEY")), str(v.audit()), str(v.verify())]
        for bad in (
            lambda: c.decrypt("openai", blob[:-2] + "AA"),
            lambda: ic.SecretCipher("a different master key!!").decrypt("openai", blob),
            lambda: ic.SecretVault(path, "a different master key!!"),
            lambda: v.get("OPENAI_API_KEY", version=9),
        ):
            with pytest.raises(ic.IronCageError) as info:
                bad()
            seen.append(str(info.value))
            seen.append(repr(info.value))
        v.rotate_master_key(ic.generate_master_key())
    seen += [out.getvalue(), err.getvalue(), caplog.text]
    for text in seen:
        assert VALUE not in text
        assert KEY not in text
    for file in tmp_path.iterdir():
        assert VALUE.encode() not in file.read_bytes(), file


def test_cli(tmp_path: Path) -> None:
    vault = str(tmp_path / "cli.db")

    def cli(
        *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        import os

        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "iron_cage", "secret", "--vault", vault, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=full_env,
            check=False,
        )

    key = cli("generate-master-key").stdout.strip()
    assert len(key) == 43
    env = {"IRON_SECRETS_MASTER_KEY": key}
    assert cli("add", "OPENAI_API_KEY", stdin=VALUE + "\n", env=env).returncode == 0
    listing = cli("list", env=env).stdout
    assert "sk-proj-012..." in listing and VALUE not in listing
    assert cli("get", "OPENAI_API_KEY", env=env).stdout.strip() == VALUE
    new_key = cli("generate-master-key").stdout.strip()
    rotated = cli("rotate", env={**env, "IRON_SECRETS_NEW_MASTER_KEY": new_key})
    assert rotated.returncode == 0 and "re-encrypted 1" in rotated.stdout
    refused = cli("get", "OPENAI_API_KEY", env=env)
    assert (
        refused.returncode == 2
        and "cannot be unlocked" in refused.stderr
        and "Traceback" not in refused.stderr
    )
    assert cli("get", "OPENAI_API_KEY", env={"IRON_SECRETS_MASTER_KEY": new_key}).stdout.strip() == VALUE


def test_swapping_versions_inside_the_vault_fails(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    v = ic.SecretVault(path, KEY)
    v.put("A", "first-version-value")
    v.put("A", "second-version-value")
    db = sqlite3.connect(path)
    blobs = dict(db.execute("SELECT version, blob FROM secrets WHERE name = 'A'").fetchall())
    db.execute("UPDATE secrets SET blob = ? WHERE name = 'A' AND version = 1", (blobs[2],))
    db.execute("UPDATE secrets SET blob = ? WHERE name = 'A' AND version = 2", (blobs[1],))
    db.commit()
    db.close()
    for version in (1, 2):
        with pytest.raises(ic.SecretError, match="altered or moved"):
            v.get("A", version=version)
    assert sorted(f[2] for f in v.verify()) == [1, 2]
