"""Login, refresh-token rotation (with reuse detection) and logout."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from fastapi import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from iron_cage.control_panel.accounts import user_out
from iron_cage.control_panel.db import updated
from iron_cage.control_panel.deps import CP, Caller, Db, TxRouter
from iron_cage.control_panel.errors import ApiError, unauthorized
from iron_cage.control_panel.models import RefreshToken, User
from iron_cage.control_panel.security import (
    REFRESH_PREFIX,
    access_token,
    new_token,
    token_hash,
    verify_password,
)
from iron_cage.control_panel.state import ControlPanel
from iron_cage.control_panel.wire import LoginIn, RefreshIn, TokenPair

router = TxRouter(prefix="/auth", tags=["auth"])

UTC = timezone.utc


def issue_tokens(cp: ControlPanel, s: Session, user: User, family: str | None = None) -> TokenPair:
    refresh = new_token(REFRESH_PREFIX)
    s.add(
        RefreshToken(
            user_id=user.id,
            token_hash=token_hash(refresh),
            family=family or secrets.token_hex(16),
            expires_at=datetime.now(UTC) + timedelta(seconds=cp.settings.refresh_token_ttl_s),
        )
    )
    access, _ = access_token(cp.jwt_key, user.id, user.role, user.token_stamp, cp.settings.access_token_ttl_s)
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=cp.settings.access_token_ttl_s,
        user=user_out(user),
    )


@router.post("/login", responses={401: {}, 423: {}})
def login(body: LoginIn, cp: CP) -> TokenPair:
    """Email and password for an access token (short-lived JWT) and a rotating refresh token."""
    st = cp.settings
    now = datetime.now(UTC)
    # Count the attempt in its own transaction so a failure is recorded even though we raise.
    with cp.db.session() as s:
        user = s.scalar(select(User).where(User.email == body.email))
        if user is not None and user.locked_until is not None and user.locked_until > now:
            wait = int((user.locked_until - now).total_seconds()) + 1
            raise ApiError(
                423, "locked", f"too many failed logins: try again in {wait} s", retry_after_s=wait
            )
        ok = verify_password(body.password, user.password_hash if user else None, st.bcrypt_rounds)
        if user is None or not ok:
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= st.max_failed_logins:
                    user.locked_until = now + timedelta(seconds=st.lockout_s)
                    user.failed_logins = 0
            failed = True
        else:
            failed = False
            if user.status != "active":
                raise unauthorized("this account is suspended: ask an admin to activate it")
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            return issue_tokens(cp, s, user)
    assert failed
    raise unauthorized("wrong email or password")


@router.post("/refresh", responses={401: {}})
def refresh(body: RefreshIn, cp: CP) -> TokenPair:
    """Trades a refresh token for a new pair. Each refresh token works once; reusing one
    (a sign it was stolen) revokes every token of its family."""
    now = datetime.now(UTC)
    with cp.db.session() as s:
        row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash(body.refresh_token)))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise_after = True
        elif row.rotated_at is not None:
            s.execute(
                update(RefreshToken)
                .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            raise_after = True
        else:
            # Rotate with a conditional UPDATE so two concurrent refreshes cannot both win.
            won = updated(
                s,
                update(RefreshToken)
                .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
                .values(rotated_at=now),
            )
            user = s.get(User, row.user_id)
            if won != 1 or user is None or user.status != "active":
                raise unauthorized("refresh token already used or account suspended: log in again")
            return issue_tokens(cp, s, user, row.family)
    assert raise_after
    raise unauthorized("invalid, expired or revoked refresh token: log in again")


@router.post("/logout", status_code=204, responses={401: {}})
def logout(body: RefreshIn, who: Caller, s: Db) -> Response:
    """Revokes the refresh token's whole family (this login on every device it was refreshed on)."""
    row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash(body.refresh_token)))
    if row is None or row.user_id != who.user_id:
        raise unauthorized("unknown refresh token for this user")
    s.execute(
        update(RefreshToken)
        .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return Response(status_code=204)
