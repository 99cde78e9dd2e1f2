"""The per-process Control Panel: settings, database, signing key, cipher, first admin."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import stat
from functools import cached_property
from pathlib import Path

from sqlalchemy import func, select

from iron_cage import _core
from iron_cage._exceptions import ConfigError
from iron_cage.control_panel.db import Database, migrate
from iron_cage.control_panel.events import EventHub
from iron_cage.control_panel.models import User
from iron_cage.control_panel.security import hash_password
from iron_cage.control_panel.settings import Settings
from iron_cage.control_panel.signing import SigningKeys

log = logging.getLogger("iron_cage.control_panel")


class ControlPanel:
    def __init__(self, settings: Settings, *, run_migrations: bool = True) -> None:
        self.settings = settings
        self.db = Database(settings)
        try:
            if run_migrations:
                migrate(self.db.engine)
            self._kdf_salt = base64.b64decode(
                self.db.shared_value("cipher_kdf_salt", lambda: base64.b64encode(os.urandom(16)).decode())
            )
            self._master_key = self._resolve_master_key()
            self.events = EventHub(self.db, settings.replica_name)
            self.signing_keys = SigningKeys(settings, self.db, self.cipher)
        except BaseException:  # a refused configuration: no connection is left open
            self.db.dispose()
            raise

    def _resolve_master_key(self) -> str:
        if self.settings.master_key:
            return self.settings.master_key
        path = self.settings.sqlite_path
        if path is None:
            raise ConfigError(
                "set IRON_SECRETS_MASTER_KEY (generate one with `iron-cage secret generate-master-key`): "
                "every replica on PostgreSQL needs the same key to read provider keys and secrets"
            )
        key_file = Path(str(path) + ".master-key")
        if key_file.exists():
            mode = stat.S_IMODE(key_file.stat().st_mode)
            if mode & 0o077:
                key_file.chmod(0o600)
                log.warning(
                    "%s was readable by others (mode %o): it is now 0600; anyone who read it can "
                    "decrypt every secret and provider key, so rotate them",
                    key_file,
                    mode,
                )
            log.warning(
                "the master key is read from %s, next to the database: whoever can read both can "
                "decrypt every secret; set IRON_SECRETS_MASTER_KEY from a secret store instead",
                key_file,
            )
            return key_file.read_text().strip()
        key = _core.generate_master_key()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        os.chmod(key_file, 0o600)  # whatever the umask
        log.warning(
            "generated a master key in %s (mode 0600): back it up, without it stored secrets are lost; "
            "better, set IRON_SECRETS_MASTER_KEY from a secret store: whoever can read both the key "
            "file and the database can decrypt every secret",
            key_file,
        )
        return key

    @cached_property
    def cipher(self) -> _core.SecretCipher:
        """Argon2id runs once here, on first use, not per request."""
        return _core.SecretCipher(self._master_key, kdf_salt=self._kdf_salt)

    def bootstrap_admin(self) -> str | None:
        """Creates the first admin when there are no users; returns a generated one-time password."""
        with self.db.session() as s:
            if s.scalar(select(func.count()).select_from(User)):
                return None
            email = (self.settings.admin_email or "admin@localhost").strip().lower()
            password = self.settings.admin_password
            generated = None
            if not password:
                password = generated = secrets.token_urlsafe(18)
            s.add(
                User(
                    email=email,
                    name="Administrator",
                    role="admin",
                    password_hash=hash_password(password, self.settings.bcrypt_rounds),
                )
            )
        return generated

    def close(self) -> None:
        self.events.stop()
        self.db.dispose()
