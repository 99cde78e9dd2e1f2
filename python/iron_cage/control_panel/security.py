"""Passwords (bcrypt), random tokens stored as SHA-256, and short-lived JWT access tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import bcrypt
import jwt

IC_TOKEN_PREFIX = "ic_"
REFRESH_PREFIX = "rt_"
JWT_ALGORITHM = "HS256"
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; longer passwords are refused, not truncated
MIN_PASSWORD_CHARS = 12

UTC = timezone.utc


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


_DUMMY_HASH: dict[int, str] = {}


def verify_password(password: str, hashed: str | None, rounds: int) -> bool:
    """Constant work whether or not the user exists (a dummy hash stands in for a missing one)."""
    if hashed is None:
        hashed = _DUMMY_HASH.setdefault(rounds, hash_password("not-a-password", rounds))
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(encoded, hashed.encode())


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"password too short: use at least {MIN_PASSWORD_CHARS} characters"
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return f"password too long: bcrypt uses at most {MAX_PASSWORD_BYTES} bytes"
    return None


def new_token(prefix: str) -> str:
    """256 bits from the OS CSPRNG, URL-safe, with a type prefix."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def access_token(key: str, kid: str, user_id: int, role: str, stamp: str, ttl_s: int) -> tuple[str, datetime]:
    """A JWT for ``user_id`` signed with ``key`` (named ``kid`` in its header); ``stamp`` is the
    user's token stamp, which every request compares with the user's current one (a changed
    password, role or status, or another user who got the same id, makes it differ)."""
    expires = datetime.now(UTC) + timedelta(seconds=ttl_s)
    claims = {
        "sub": str(user_id),
        "role": role,
        "stm": stamp,
        "exp": expires,
        "iat": datetime.now(UTC),
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM, headers={"kid": kid}), expires


def decode_access_token(key_for: Callable[[str | None], str | None], token: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired access token, else None. ``key_for(kid)`` is the key
    that verifies tokens of that key id (None: unknown or retired too long ago)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = key_for(kid if isinstance(kid, str) else None)
        if key is None:
            return None
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub", "stm"]}
        )
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == "access" else None
