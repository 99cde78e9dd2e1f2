"""The keys that sign access tokens (HS256 JWTs with a ``kid`` header).

Either ``IRON_CAGE_JWT_KEY`` (``Settings.jwt_key``) gives the signing key, with
``IRON_CAGE_JWT_PREVIOUS_KEYS`` (comma-separated) still verifying tokens signed before a
rotation done there; or the keys live in ``jwt_keys``, encrypted under the master key, shared by
every replica: the newest live key signs, ``rotate`` makes a new one and retires the others,
which keep verifying their tokens until those expire (``access_token_ttl_s`` after the
retirement, plus a minute of clock slack). A replica reloads the keys when a token names one it
does not know and every ``RELOAD_S``; the signing key is looked up at each login, so a rotation
on one replica applies to the others at once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from iron_cage._core import SecretCipher
from iron_cage._exceptions import ConfigError
from iron_cage.control_panel.db import Database
from iron_cage.control_panel.errors import ApiError
from iron_cage.control_panel.models import JwtKey, Setting
from iron_cage.control_panel.settings import Settings

log = logging.getLogger("iron_cage.control_panel")
UTC = timezone.utc
RELOAD_S = 30.0
LEGACY_KID = "legacy"  # the plaintext key of earlier versions; its tokens carry no kid
MIN_KEY_CHARS = 32


@dataclass(frozen=True)
class Key:
    kid: str
    secret: str
    created_at: datetime
    retired_at: datetime | None


def _env_kid(secret: str) -> str:
    return "env-" + hashlib.sha256(secret.encode()).hexdigest()[:16]


class SigningKeys:
    def __init__(self, settings: Settings, db: Database, cipher: SecretCipher) -> None:
        self.settings = settings
        self.db = db
        self.cipher = cipher
        self._lock = threading.Lock()
        self._keys: dict[str, Key] = {}
        self._loaded_at = 0.0
        self.from_environment = bool(settings.jwt_key)
        if self.from_environment:
            self._from_environment()
        else:
            self._adopt_legacy()
            self._reload()
            if self._current() is None:
                self._create()

    # -- keys from the environment -------------------------------------------------------------------
    def _from_environment(self) -> None:
        for value in [self.settings.jwt_key or "", *self.settings.jwt_previous_keys]:
            if len(value) < MIN_KEY_CHARS:
                raise ConfigError(
                    f"IRON_CAGE_JWT_KEY and IRON_CAGE_JWT_PREVIOUS_KEYS need at least {MIN_KEY_CHARS} "
                    "characters each: generate one with `iron-cage secret generate-master-key`"
                )
        now = datetime.now(UTC)
        current = self.settings.jwt_key or ""
        self._keys = {_env_kid(current): Key(_env_kid(current), current, now, None)}
        for old in self.settings.jwt_previous_keys:
            # Kept until the operator drops it from the list (after access_token_ttl_s).
            self._keys.setdefault(_env_kid(old), Key(_env_kid(old), old, now - timedelta(days=1), now))

    # -- keys in the database ------------------------------------------------------------------------
    def _encrypt(self, kid: str, secret: str) -> str:
        return self.cipher.encrypt("jwt-signing-key", secret, secret_id=kid)

    def _adopt_legacy(self) -> None:
        """Moves the plaintext key of earlier versions into ``jwt_keys``, encrypted, retired:
        the tokens it signed stay valid until they expire, new ones use a new key."""
        with self.db.session() as s:
            row = s.get(Setting, "jwt_signing_key")
            if row is None:
                return
            if s.get(JwtKey, LEGACY_KID) is None:
                s.execute(
                    self.db.insert(JwtKey)
                    .values(
                        kid=LEGACY_KID,
                        ciphertext=self._encrypt(LEGACY_KID, row.value),
                        created_at=datetime.now(UTC),
                        retired_at=datetime.now(UTC),
                    )
                    .on_conflict_do_nothing()
                )
            s.delete(row)
        log.warning("moved the access-token signing key into jwt_keys, encrypted under the master key")

    def _reload(self, s: Session | None = None) -> None:
        if s is None:
            with self.db.session() as own:
                rows = list(own.scalars(select(JwtKey)))
        else:
            rows = list(s.scalars(select(JwtKey)))
        keys = {
            r.kid: Key(
                r.kid,
                self.cipher.decrypt("jwt-signing-key", r.ciphertext, secret_id=r.kid),
                r.created_at,
                r.retired_at,
            )
            for r in rows
        }
        with self._lock:
            self._keys = keys
            self._loaded_at = time.monotonic()

    def _create(self, s: Session | None = None) -> Key:
        kid = "k-" + secrets.token_hex(8)
        secret = secrets.token_urlsafe(48)
        row = JwtKey(kid=kid, ciphertext=self._encrypt(kid, secret), created_at=datetime.now(UTC))
        if s is None:
            with self.db.session() as own:
                own.add(row)
        else:
            s.add(row)
            s.flush()
        key = Key(kid, secret, row.created_at, None)
        with self._lock:
            self._keys[kid] = key
        return key

    def _current(self) -> Key | None:
        live = [k for k in self._keys.values() if k.retired_at is None]
        return max(live, key=lambda k: (k.created_at, k.kid)) if live else None

    def _fresh(self) -> None:
        if not self.from_environment and time.monotonic() - self._loaded_at > RELOAD_S:
            self._reload()

    # -- use -----------------------------------------------------------------------------------------
    def signing(self, s: Session) -> Key:
        """The key new access tokens are signed with: the newest live one in the database, looked
        up (in the request's transaction ``s``) at every login and refresh, which are rare, so a
        rotation on any replica applies at once."""
        if self.from_environment:
            key = self._current()
            assert key is not None
            return key
        kid = s.scalar(
            select(JwtKey.kid)
            .where(JwtKey.retired_at.is_(None))
            .order_by(JwtKey.created_at.desc(), JwtKey.kid.desc())
            .limit(1)
        )
        if kid is None:
            return self._create(s)
        if kid not in self._keys or self._keys[kid].retired_at is not None:
            self._reload(s)
        return self._keys[kid]

    def verifying(self, kid: str | None) -> str | None:
        """The secret that verifies a token with ``kid`` (None: the legacy key), or None when
        that key is unknown or retired for longer than a token lives."""
        kid = kid or LEGACY_KID
        self._fresh()
        key = self._keys.get(kid)
        if key is None and not self.from_environment:
            self._reload()  # signed by a key another replica made
            key = self._keys.get(kid)
        if key is None:
            return None
        if key.retired_at is not None:
            valid_until = key.retired_at + timedelta(seconds=self.settings.access_token_ttl_s + 60)
            if self.from_environment:
                valid_until = datetime.max.replace(tzinfo=UTC)  # the operator removes it
            if datetime.now(UTC) > valid_until:
                return None
        return key.secret

    def rotate(self) -> tuple[Key, list[Key]]:
        """A new signing key; the others are retired (they verify their tokens until expiry)."""
        if self.from_environment:
            raise ApiError(
                409,
                "jwt_key_from_environment",
                "the signing key comes from IRON_CAGE_JWT_KEY: rotate it there (put the old key in "
                "IRON_CAGE_JWT_PREVIOUS_KEYS until its tokens expire) and restart the replicas",
            )
        kid, secret = "k-" + secrets.token_hex(8), secrets.token_urlsafe(48)
        with self.db.session() as s:  # one transaction: there is always exactly one live key
            s.execute(update(JwtKey).where(JwtKey.retired_at.is_(None)).values(retired_at=datetime.now(UTC)))
            s.add(JwtKey(kid=kid, ciphertext=self._encrypt(kid, secret)))
        self._reload()
        retired = [k for k in self._keys.values() if k.retired_at is not None]
        return self._keys[kid], retired
