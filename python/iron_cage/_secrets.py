"""Encrypted secrets: ``SecretCipher`` for single values and ``SecretVault`` for a local vault file.

The cryptography and storage are in Rust (``crates/iron_secrets``): Argon2id
derives the key-encryption key once per unlock, each secret gets its own
HKDF-derived AES-256-GCM key, and ciphertexts are bound to the secret's id,
name, environment and version. Values never appear in a ``repr``, a log line
or an exception message.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

from iron_cage import _core
from iron_cage._exceptions import ConfigError

MASTER_KEY_ENV = "IRON_SECRETS_MASTER_KEY"


def master_key_from_env(master_key: str | None = None) -> str:
    """``master_key``, else ``$IRON_SECRETS_MASTER_KEY``, else a ConfigError saying how to make one."""
    key = master_key if master_key is not None else os.environ.get(MASTER_KEY_ENV)
    if not key:
        raise ConfigError(
            f"no master key: pass master_key= or set {MASTER_KEY_ENV}; generate one with "
            "`iron-cage secret generate-master-key` and keep it somewhere safe (losing it loses the secrets)"
        )
    return key


class SecretVault:
    """A local vault in one SQLite file: versions, environments, soft delete, rotation, audit.

    ``SecretVault("vault.db")`` takes the master key from ``IRON_SECRETS_MASTER_KEY``.
    Environments are ``development``, ``staging`` and ``production`` (the default).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        master_key: str | None = None,
        *,
        role: str = "admin",
        agent_id: str | None = None,
        keep_versions: int = 10,
    ) -> None:
        self.path = Path(path)
        self._core = _core.SecretVaultCore(
            self.path,
            master_key_from_env(master_key),
            role=role,
            agent_id=agent_id,
            keep_versions=keep_versions,
        )

    def put(self, name: str, value: str, *, environment: str = "production") -> int:
        """Stores a new version; returns its number."""
        return self._core.put(name, value, environment=environment)

    def get(self, name: str, *, environment: str = "production", version: int | None = None) -> str:
        """The latest (or the given) version's value."""
        return self._core.get(name, environment=environment, version=version)

    def list(
        self, *, environment: str | None = None, include_deleted: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Every secret's latest version, value masked (``sk-proj-abc...xyz``)."""
        return self._core.list(environment=environment, include_deleted=include_deleted)

    def delete(self, name: str, *, environment: str = "production") -> None:
        """Soft delete: reads stop finding it until :meth:`undelete`."""
        self._core.delete(name, environment=environment)

    def undelete(self, name: str, *, environment: str = "production") -> None:
        self._core.undelete(name, environment=environment)

    def destroy(self, name: str, *, environment: str = "production") -> None:
        """Removes every version for good."""
        self._core.destroy(name, environment=environment)

    def history(self, name: str, *, environment: str = "production") -> builtins.list[tuple[int, str, bool]]:
        """(version, created_at, deleted) newest first."""
        return self._core.history(name, environment=environment)

    def audit(self, secret_name: str | None = None) -> builtins.list[dict[str, Any]]:
        """Audit rows, oldest first. The database refuses to change or delete them."""
        return self._core.audit(secret_name)

    def rotate_master_key(self, new_master_key: str) -> int:
        """Re-encrypts everything under ``new_master_key``; returns the versions re-wrapped."""
        return self._core.rotate_master_key(new_master_key)

    def verify(self) -> builtins.list[tuple[str, str, int, str]]:
        """(name, environment, version, error) of every stored version that fails to decrypt."""
        return self._core.verify()

    def __repr__(self) -> str:
        return f"SecretVault({str(self.path)!r})"
