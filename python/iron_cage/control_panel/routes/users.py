"""Users: admins manage them; everyone can read and change their own account."""

from __future__ import annotations

import secrets
from datetime import timezone

from fastapi import Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from iron_cage.control_panel import logins
from iron_cage.control_panel.accounts import end_sessions, user_out
from iron_cage.control_panel.deps import CP, Admin, Caller, Db, Id, TxRouter
from iron_cage.control_panel.errors import bad_request, conflict, not_found, unauthorized
from iron_cage.control_panel.models import Agent, User
from iron_cage.control_panel.security import hash_password, password_problem, verify_password
from iron_cage.control_panel.wire import (
    PasswordChange,
    PasswordOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)

router = TxRouter(prefix="/users", tags=["users"])

UTC = timezone.utc


def get_user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise not_found(f"user {user_id}")
    return user


def _last_admin(s: Session, user: User) -> bool:
    if user.role != "admin" or user.status != "active":
        return False
    admins = s.scalar(
        select(func.count()).select_from(User).where(User.role == "admin", User.status == "active")
    )
    return admins == 1


@router.get("/me")
def me(who: Caller, s: Db) -> UserOut:
    if who.user_id is None:
        raise unauthorized("agents have no user account; use an access token")
    return user_out(get_user(s, who.user_id))


@router.post("/me/password", status_code=204, responses={400: {}, 401: {}})
def change_password(body: PasswordChange, who: Caller, cp: CP, s: Db) -> Response:
    if who.user_id is None:
        raise unauthorized("agents have no password")
    user = get_user(s, who.user_id)
    if not verify_password(body.current_password, user.password_hash, cp.settings.bcrypt_rounds):
        raise bad_request("current password is wrong")
    if problem := password_problem(body.new_password):
        raise bad_request(problem)
    user.password_hash = hash_password(body.new_password, cp.settings.bcrypt_rounds)
    end_sessions(s, user)
    return Response(status_code=204)


@router.get("")
def list_users(_: Admin, s: Db) -> list[UserOut]:
    return [user_out(u) for u in s.scalars(select(User).order_by(User.id))]


@router.post("", status_code=201, responses={400: {}, 409: {}})
def create_user(body: UserIn, _: Admin, cp: CP, s: Db) -> UserCreated:
    """Creates a user; without a password the server generates one and returns it once."""
    generated = None
    password = body.password
    if password is None:
        password = generated = secrets.token_urlsafe(18)
    elif problem := password_problem(password):
        raise bad_request(problem)
    if s.scalar(select(User.id).where(User.email == body.email)) is not None:
        raise conflict(f"a user with email {body.email} exists")
    user = User(
        email=body.email,
        name=body.name,
        role=body.role,
        password_hash=hash_password(password, cp.settings.bcrypt_rounds),
    )
    s.add(user)
    try:
        s.flush()
    except IntegrityError:
        raise conflict(f"a user with email {body.email} exists") from None
    return UserCreated(user=user_out(user), password=generated)


@router.get("/{user_id}", responses={404: {}})
def read_user(user_id: Id, _: Admin, s: Db) -> UserOut:
    return user_out(get_user(s, user_id))


@router.patch("/{user_id}", responses={404: {}, 409: {}})
def patch_user(user_id: Id, body: UserPatch, _: Admin, s: Db) -> UserOut:
    user = get_user(s, user_id)
    if body.role is not None and body.role != user.role and _last_admin(s, user):
        raise conflict("cannot demote the last active admin: promote another user first")
    if body.name is not None:
        user.name = body.name
    if body.role is not None and body.role != user.role:
        user.role = body.role
        end_sessions(s, user)
    return user_out(user)


@router.delete("/{user_id}", status_code=204, responses={404: {}, 409: {}})
def delete_user(user_id: Id, _: Admin, s: Db) -> Response:
    user = get_user(s, user_id)
    if _last_admin(s, user):
        raise conflict("cannot delete the last active admin")
    agents = s.scalar(select(func.count()).select_from(Agent).where(Agent.owner_id == user_id))
    if agents:
        raise conflict(f"user {user_id} owns {agents} agent(s): suspend the user instead", agents=agents)
    s.delete(user)
    return Response(status_code=204)


@router.post("/{user_id}/suspend", responses={404: {}, 409: {}})
def suspend_user(user_id: Id, _: Admin, s: Db) -> UserOut:
    """Suspends the account and ends its sessions (access tokens stop working at once, and stay
    refused after a later activation)."""
    user = get_user(s, user_id)
    if _last_admin(s, user):
        raise conflict("cannot suspend the last active admin")
    user.status = "suspended"
    end_sessions(s, user)
    return user_out(user)


@router.post("/{user_id}/activate", responses={404: {}})
def activate_user(user_id: Id, _: Admin, s: Db) -> UserOut:
    """Activates the account and clears its failed-login counts."""
    user = get_user(s, user_id)
    user.status = "active"
    logins.unlock(s, user.email)
    return user_out(user)


@router.post("/{user_id}/reset-password", responses={404: {}})
def reset_password(user_id: Id, _: Admin, cp: CP, s: Db) -> PasswordOut:
    """A new random password, returned once; the user's sessions end."""
    user = get_user(s, user_id)
    password = secrets.token_urlsafe(18)
    user.password_hash = hash_password(password, cp.settings.bcrypt_rounds)
    logins.unlock(s, user.email)
    end_sessions(s, user)
    return PasswordOut(password=password)
