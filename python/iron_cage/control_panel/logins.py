"""Login rate limits, per account and per client address, that never lock an account out for
everyone (docs/security.md, "Logins").

Failed attempts are counted in ``login_attempts`` over a window of ``Settings.lockout_s``:

- per **account and address** (``pair``): ``max_failed_logins`` (5) failures lock that address
  out of that account for ``lockout_s``; every other address can still log in to it;
- per **address** (``address``): ``max_failed_logins_per_address`` (20) failures, whatever the
  accounts (password spraying), lock the address out of every account;
- per **account** (``account``): past ``max_failed_logins_per_account`` (50) failures from many
  addresses (a distributed guess), the account accepts logins only from addresses it logged in
  from before (``known``) until the window ends; those addresses are never locked out by others.

Unknown emails are counted like known ones, so the answers do not tell which accounts exist.
Keys are SHA-256 of the normalised email and address: the table holds neither.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from iron_cage.control_panel.db import Database, updated
from iron_cage.control_panel.errors import ApiError
from iron_cage.control_panel.models import LoginAttempts
from iron_cage.control_panel.settings import Settings

UTC = timezone.utc
KNOWN_FOR = timedelta(days=90)


def _h(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def account_key(email: str) -> str:
    return _h("account", email.strip().lower())


@dataclass(frozen=True)
class Attempt:
    """One login attempt: the keys of its rows."""

    account: str
    pair: str
    address: str

    @staticmethod
    def of(email: str, address: str) -> Attempt:
        email = email.strip().lower()
        return Attempt(
            account=account_key(email), pair=_h("pair", email, address), address=_h("address", address)
        )


def _rows(s: Session, a: Attempt) -> dict[str, LoginAttempts]:
    wanted = {("pair", a.pair), ("address", a.address), ("account", a.account), ("known", a.pair)}
    rows = s.scalars(select(LoginAttempts).where(LoginAttempts.key.in_({k for _, k in wanted})))
    return {r.scope: r for r in rows if (r.scope, r.key) in wanted}


def _locked(wait: float, attempts_left: int, message: str, scope: str) -> ApiError:
    seconds = max(1, int(wait) + 1)
    return ApiError(
        423,
        "locked",
        f"{message}: try again in {seconds} s ({attempts_left} attempts left from this address after that)",
        retry_after_s=seconds,
        attempts_left=0,
        locked=scope,
    )


def check(s: Session, st: Settings, a: Attempt, now: datetime) -> None:
    """423 before the password is even checked, when this attempt is locked out."""
    rows = _rows(s, a)
    window = timedelta(seconds=st.lockout_s)
    address = rows.get("address")
    if address is not None and address.locked_until is not None and address.locked_until > now:
        raise _locked(
            (address.locked_until - now).total_seconds(),
            st.max_failed_logins,
            f"too many failed logins from your address ({st.max_failed_logins_per_address} in "
            f"{st.lockout_s // 60} min, any accounts)",
            "address",
        )
    pair = rows.get("pair")
    if pair is not None and pair.locked_until is not None and pair.locked_until > now:
        raise _locked(
            (pair.locked_until - now).total_seconds(),
            st.max_failed_logins,
            f"too many failed logins for this account from your address ({st.max_failed_logins}); "
            "other addresses are not affected",
            "account_from_address",
        )
    account = rows.get("account")
    known = rows.get("known")
    if (
        account is not None
        and account.failures >= st.max_failed_logins_per_account
        and account.window_start + window > now
        and not (known is not None and known.window_start + KNOWN_FOR > now)
    ):
        raise _locked(
            (account.window_start + window - now).total_seconds(),
            st.max_failed_logins,
            "too many failed logins for this account from many addresses: until then it accepts "
            "logins only from addresses it was used from before",
            "account",
        )


def _count(
    s: Session, db: Database, scope: str, key: str, account: str | None, now: datetime, st: Settings
) -> int:
    """Adds a failure to the row (a new window when the last one ended); the count after it."""
    window = timedelta(seconds=st.lockout_s)
    row = s.get(LoginAttempts, (scope, key))
    if row is None:
        s.execute(
            db.insert(LoginAttempts)
            .values(scope=scope, key=key, account=account, failures=0, window_start=now)
            .on_conflict_do_nothing()
        )
        row = s.get(LoginAttempts, (scope, key))
        assert row is not None
    s.refresh(row, with_for_update=True)
    if row.window_start + window <= now:
        row.failures, row.window_start, row.locked_until = 0, now, None
    row.failures += 1
    s.flush()
    return row.failures


def failed(s: Session, db: Database, st: Settings, a: Attempt, now: datetime) -> int:
    """Counts a failed attempt; how many are left from this address for this account."""
    lock = now + timedelta(seconds=st.lockout_s)
    pair = _count(s, db, "pair", a.pair, a.account, now, st)
    if pair >= st.max_failed_logins:
        row = s.get(LoginAttempts, ("pair", a.pair))
        assert row is not None
        row.locked_until = lock
    if _count(s, db, "address", a.address, None, now, st) >= st.max_failed_logins_per_address:
        row = s.get(LoginAttempts, ("address", a.address))
        assert row is not None
        row.locked_until = lock
    _count(s, db, "account", a.account, a.account, now, st)
    return max(0, st.max_failed_logins - pair)


def succeeded(s: Session, db: Database, a: Attempt, now: datetime) -> None:
    """Clears this address's failures on the account and remembers the address as known."""
    s.execute(delete(LoginAttempts).where(LoginAttempts.scope == "pair", LoginAttempts.key == a.pair))
    row = s.get(LoginAttempts, ("known", a.pair))
    if row is None:
        s.execute(
            db.insert(LoginAttempts)
            .values(scope="known", key=a.pair, account=a.account, failures=0, window_start=now)
            .on_conflict_do_nothing()
        )
    else:
        row.window_start = now


def unlock(s: Session, email: str) -> None:
    """An admin's activate or password reset: the account's failure counts are cleared (the
    addresses it is known from stay known)."""
    s.execute(
        delete(LoginAttempts).where(
            LoginAttempts.account == account_key(email), LoginAttempts.scope != "known"
        )
    )


def prune(s: Session, st: Settings, now: datetime) -> int:
    """Deletes counts whose window and lock are over, and addresses unused for ``KNOWN_FOR``
    (the sweeper runs it: guesses at made-up emails cannot grow the table for ever)."""
    over = now - timedelta(seconds=st.lockout_s)
    counts = delete(LoginAttempts).where(
        LoginAttempts.scope != "known",
        LoginAttempts.window_start < over,
        LoginAttempts.locked_until.is_(None) | (LoginAttempts.locked_until < now),
    )
    known = delete(LoginAttempts).where(
        LoginAttempts.scope == "known", LoginAttempts.window_start < now - KNOWN_FOR
    )
    return updated(s, counts) + updated(s, known)
