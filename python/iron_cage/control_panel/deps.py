"""Request dependencies: the database session, who is calling, and what their role may do."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from iron_cage.control_panel.errors import forbidden, unauthorized
from iron_cage.control_panel.events import run_after_commit, run_after_rollback
from iron_cage.control_panel.models import Agent, IcToken, User
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.security import IC_TOKEN_PREFIX, decode_access_token, same, token_hash
from iron_cage.control_panel.state import ControlPanel

# Ids are 32-bit on PostgreSQL; a larger one is a 422, not a driver overflow.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
LeaseId = Annotated[str, Path(min_length=1, max_length=40)]

bearer = HTTPBearer(auto_error=False, description="a JWT access token, or an IC token (ic_...) for runtimes")

UTC = timezone.utc


# Dependencies that do no I/O are coroutines: FastAPI runs a plain function in the thread pool,
# a hop per dependency per request that costs more than the work.
async def control_panel(request: Request) -> ControlPanel:
    cp: ControlPanel = request.app.state.control_panel
    return cp


CP = Annotated[ControlPanel, Depends(control_panel)]


async def session(cp: CP) -> Session:
    """A session for the endpoint; ``TxRouter`` commits or rolls it back in the endpoint's thread."""
    return cp.events.bind(cp.db.sessions())


Db = Annotated[Session, Depends(session)]


def _transactional(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        s: Session = kwargs["s"]
        try:
            with s.begin():
                result = endpoint(*args, **kwargs)
        except BaseException:
            s.close()
            run_after_rollback(s)
            raise
        try:
            run_after_commit(s)
            return result
        finally:
            s.close()

    return run


class TxRouter(APIRouter):
    """Runs each endpoint that takes ``s: Db`` inside one transaction, committed before the
    response is sent, in the same worker thread as the endpoint.

    (A ``yield`` dependency would commit in a later threadpool hop; with every worker thread
    waiting on SQLite's write lock, the lock holder could never get a thread to commit.)
    """

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "s" in inspect.signature(endpoint).parameters and not inspect.iscoroutinefunction(endpoint):
            endpoint = _transactional(endpoint)
        super().add_api_route(path, endpoint, **kwargs)


def agent_for_token(cp: ControlPanel, token: str) -> Principal:
    """The agent of a live IC token. A stopped agent still authenticates: it must be able to
    report what it spent and return its lease; handshake and refresh refuse it."""
    if not token.startswith(IC_TOKEN_PREFIX):
        raise unauthorized(
            "not an IC token: IC tokens start with 'ic_'; create one with POST /api/v1/agents/{id}/tokens"
        )
    with cp.db.autocommit() as conn:  # one SELECT per request; a minute's last_used_at on its own
        row = conn.execute(
            select(IcToken.id, IcToken.agent_id, IcToken.last_used_at, IcToken.environment)
            .join(Agent, Agent.id == IcToken.agent_id)
            .where(IcToken.token_hash == token_hash(token), IcToken.revoked_at.is_(None))
        ).first()
        if row is None:
            raise unauthorized("unknown or revoked IC token: ask an admin for a new one")
        now = datetime.now(UTC)
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            conn.execute(update(IcToken).where(IcToken.id == row.id).values(last_used_at=now))
    return Principal(role="agent", agent_id=row.agent_id, token_id=row.id, environment=row.environment)


def principal(cp: CP, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    return principal_for_token(cp, creds.credentials if creds else "")


def principal_for_token(cp: ControlPanel, token: str) -> Principal:
    """Who presents ``token`` (an access token or an IC token); 401 when nobody."""
    if not token:
        raise unauthorized("missing credentials: send 'Authorization: Bearer <access token or IC token>'")
    if token.startswith(IC_TOKEN_PREFIX):
        return agent_for_token(cp, token)
    claims = decode_access_token(cp.signing_keys.verifying, token)
    if claims is None:
        raise unauthorized("invalid or expired access token: log in again or use POST /api/v1/auth/refresh")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise unauthorized("malformed access token") from None
    with cp.db.session() as s:
        user = s.get(User, user_id)
        if user is None or user.status != "active":
            raise unauthorized("this account is suspended or gone")
        if not isinstance(claims["stm"], str) or not same(claims["stm"], user.token_stamp):
            raise unauthorized(
                "access token no longer valid: the account's password, role or status changed "
                "after it was issued; log in again"
            )
        return Principal(role=user.role, user_id=user.id)


Caller = Annotated[Principal, Depends(principal)]


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(who: Caller) -> Principal:
        if who.role not in roles:
            raise forbidden(f"role {who.role!r} may not do this (allowed: {', '.join(roles)})")
        return who

    return check


Admin = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "developer"))]
Reader = Annotated[Principal, Depends(require("admin", "developer", "viewer"))]
# Every person, the read-only super_user included (who sees only their own budgets and usage).
Person = Annotated[Principal, Depends(require("admin", "developer", "viewer", "super_user"))]
AgentCaller = Annotated[Principal, Depends(require("agent"))]
# Reads of one agent: people who may see agents, and the agent's own IC token.
AgentReader = Annotated[Principal, Depends(require("admin", "developer", "viewer", "agent"))]
LeaseReader = Annotated[Principal, Depends(require("admin", "developer", "viewer", "agent"))]
