"""Recovering access on the server host, where access to the database is the authority
(``iron-cage control-panel unlock`` and ``reset-admin``): no API call can do this, since the
admin who would make it is the one locked out."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from iron_cage._exceptions import ConfigError
from iron_cage.control_panel import logins
from iron_cage.control_panel.accounts import end_sessions
from iron_cage.control_panel.models import LoginAttempts, User
from iron_cage.control_panel.security import hash_password, password_problem
from iron_cage.control_panel.state import ControlPanel


@dataclass(frozen=True)
class Unlocked:
    email: str
    counts_cleared: int
    address_cleared: bool


def unlock(cp: ControlPanel, email: str, address: str | None = None) -> Unlocked:
    """Clears the failed-login counts and locks of ``email`` (and of ``address``, whatever the
    accounts, when given); the addresses the account is known from stay known."""
    email = email.strip().lower()
    with cp.db.session() as s:
        if s.scalar(select(User.id).where(func.lower(User.email) == email)) is None:
            raise ConfigError(
                f"no user {email} in this database: `iron-cage control-panel reset-admin` makes one"
            )
        before = s.scalar(
            select(func.count())
            .select_from(LoginAttempts)
            .where(LoginAttempts.account == logins.account_key(email), LoginAttempts.scope != "known")
        )
        logins.unlock(s, email)
        cleared_address = False
        if address:
            key = logins.Attempt.of(email, address).address
            done = s.execute(
                delete(LoginAttempts).where(LoginAttempts.scope == "address", LoginAttempts.key == key)
            )
            cleared_address = bool(getattr(done, "rowcount", 0))
    return Unlocked(email, int(before or 0), cleared_address)


@dataclass(frozen=True)
class Reset:
    email: str
    password: str
    generated: bool
    created: bool


def reset_admin(cp: ControlPanel, email: str | None = None, password: str | None = None) -> Reset:
    """Gives an admin a new password: ``email``'s (made an active admin; created when there is
    no such user), else the first admin's. Their sessions end and their login counts clear."""
    if password is not None and (problem := password_problem(password)):
        raise ConfigError(problem)
    generated = password is None
    new = password or secrets.token_urlsafe(18)
    created = False
    with cp.db.session() as s:
        if email:
            email = email.strip().lower()
            user = s.scalar(select(User).where(func.lower(User.email) == email))
        else:
            user = s.scalar(select(User).where(User.role == "admin").order_by(User.id).limit(1))
        if user is None:
            created = True
            user = User(
                email=email or "admin@localhost",
                name="Administrator",
                role="admin",
                password_hash=hash_password(new, cp.settings.bcrypt_rounds),
            )
            s.add(user)
            s.flush()
        else:
            user.role = "admin"
            user.status = "active"
            user.password_hash = hash_password(new, cp.settings.bcrypt_rounds)
            end_sessions(s, user)
        logins.unlock(s, user.email)
        result = Reset(user.email, new, generated, created)
    return result
