"""Login, refresh-token rotation (with reuse detection) and logout."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from fastapi import Request, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from iron_cage.control_panel import logins
from iron_cage.control_panel.accounts import user_out
from iron_cage.control_panel.db import updated
from iron_cage.control_panel.deps import CP, Admin, Caller, Db, TxRouter
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
from iron_cage.control_panel.wire import LoginIn, RefreshIn, RetiredKey, SigningKeyRotated, TokenPair

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
    key = cp.signing_keys.signing(s)
    access, _ = access_token(
        key.secret, key.kid, user.id, user.role, user.token_stamp, cp.settings.access_token_ttl_s
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=cp.settings.access_token_ttl_s,
        user=user_out(user),
    )


def client_address(request: Request) -> str:
    """The client's address: the connection's peer, or the X-Forwarded-For address when the
    peer is a proxy uvicorn trusts (``Settings.trusted_proxies``)."""
    return request.client.host if request.client is not None else "unknown"


@router.post("/login", responses={401: {}, 423: {}})
def login(body: LoginIn, request: Request, cp: CP) -> TokenPair:
    """Email and password for an access token (short-lived JWT) and a rotating refresh token.

    Failed attempts are limited per account and client address (docs/security.md): a locked
    login is a 423 saying how long it lasts; it never locks the account for other addresses."""
    st = cp.settings
    now = datetime.now(UTC)
    attempt = logins.Attempt.of(body.email, client_address(request))
    # Check and count in their own transaction, so a failure is recorded even though we raise.
    with cp.db.session() as s:
        logins.check(s, st, attempt, now)
        user = s.scalar(select(User).where(User.email == body.email))
        ok = verify_password(body.password, user.password_hash if user else None, st.bcrypt_rounds)
        if user is not None and ok:
            if user.status != "active":
                raise unauthorized("this account is suspended: ask an admin to activate it")
            logins.succeeded(s, cp.db, attempt, now)
            user.last_login_at = now
            return issue_tokens(cp, s, user)
        left = logins.failed(s, cp.db, st, attempt, now)
    if left == 0:
        raise ApiError(
            423,
            "locked",
            f"wrong email or password; that was the last attempt from your address: this account "
            f"is locked for it for {st.lockout_s} s (other addresses are not affected)",
            retry_after_s=st.lockout_s,
            attempts_left=0,
            locked="account_from_address",
        )
    raise ApiError(
        401,
        "unauthorized",
        f"wrong email or password ({left} attempt{'s' if left != 1 else ''} left from this address "
        f"before a {st.lockout_s // 60}-minute lock)",
        attempts_left=left,
    )


@router.post("/signing-keys/rotate", responses={403: {}, 409: {}})
def rotate_signing_key(_: Admin, cp: CP) -> SigningKeyRotated:
    """A new access-token signing key for every replica; tokens signed with the old ones stay
    valid until they expire (at most ``access_token_ttl_s``)."""
    key, retired = cp.signing_keys.rotate()
    ttl = timedelta(seconds=cp.settings.access_token_ttl_s)
    return SigningKeyRotated(
        kid=key.kid,
        created_at=key.created_at,
        retired=[RetiredKey(kid=k.kid, valid_until=(k.retired_at or key.created_at) + ttl) for k in retired],
    )


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
