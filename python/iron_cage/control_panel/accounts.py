"""Users as the API shows them, and ending a user's sessions (shared by the auth and user routes)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import update
from sqlalchemy.orm import Session

from iron_cage.control_panel.models import RefreshToken, User, new_token_stamp
from iron_cage.control_panel.wire import UserOut

UTC = timezone.utc


def user_out(u: User) -> UserOut:
    return UserOut.model_validate(u, from_attributes=True)


def end_sessions(s: Session, user: User) -> None:
    """Revokes the user's refresh tokens and changes their token stamp, so every access token
    issued so far is refused from the next request on."""
    s.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    user.token_stamp = new_token_stamp()
