"""``WebSocket /ws``: live events for the dashboard and CLI, scoped by role."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from datetime import datetime, timezone

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from iron_cage.control_panel.budgets import budget_of, budget_out
from iron_cage.control_panel.deps import principal_for_token
from iron_cage.control_panel.errors import ApiError
from iron_cage.control_panel.models import Agent
from iron_cage.control_panel.state import ControlPanel

router = APIRouter()
log = logging.getLogger("iron_cage.control_panel")
UTC = timezone.utc

if sys.version_info >= (3, 11):

    async def _next(queue: asyncio.Queue[str], wait: float) -> str | None:
        """The next event's text, or None after ``wait`` seconds (no task per wait, unlike
        ``wait_for``: a hundred viewers wait on every event)."""
        try:
            async with asyncio.timeout(wait):
                return await queue.get()
        except TimeoutError:
            return None

else:  # pragma: no cover - Python 3.10

    async def _next(queue: asyncio.Queue[str], wait: float) -> str | None:
        try:
            return await asyncio.wait_for(queue.get(), timeout=wait)
        except asyncio.TimeoutError:
            return None


def _snapshot(cp: ControlPanel, role: str, user_id: int | None) -> list[dict[str, object]]:
    with cp.db.session() as s:
        q = select(Agent).order_by(Agent.id)
        if role == "developer":
            q = q.where(Agent.owner_id == user_id)
        return [
            {
                "type": "STATE_UPDATE",
                "agent_id": a.id,
                "owner_id": a.owner_id,
                "agent": a.name,
                "status": a.status,
                "budget": budget_out(budget_of(s, a.id)).model_dump(),
                "at": datetime.now(UTC).isoformat(),
            }
            for a in s.scalars(q)
        ]


def _close_reason(message: str) -> str:
    """A WebSocket close reason is at most 123 bytes of UTF-8."""
    return message.encode()[:123].decode(errors="ignore")


def _refusal(exc: ApiError) -> tuple[int, str]:
    return (4401 if exc.status == 401 else 4403), _close_reason(exc.message)


def _recheck(cp: ControlPanel, token: str, role: str) -> tuple[int, str] | None:
    """Why the connection must close now (close code, reason), or None while ``token`` still
    stands for an active user of ``role``."""
    try:
        who = principal_for_token(cp, token)
    except ApiError as exc:
        return _refusal(exc)
    if who.role != role:
        return 4403, _close_reason(f"your role is now {who.role!r}: reconnect to get its events")
    return None


@router.websocket("/ws")
async def live(websocket: WebSocket) -> None:
    """Authenticate with ``?token=<access token>`` (browsers cannot set headers on a
    WebSocket) or ``Authorization: Bearer``. First a STATE_UPDATE per visible agent,
    then every event as it commits, and a HEARTBEAT when idle.

    Every ``ws_recheck_s`` the token and its user are checked again: once the token has
    expired, or the user was suspended, deleted, or had their role or password changed,
    the server closes the connection (4401, or 4403, with the reason) and sends nothing more.
    """
    cp: ControlPanel = websocket.app.state.control_panel
    header = websocket.headers.get("authorization", "")
    token = websocket.query_params.get("token") or header.removeprefix("Bearer ").strip()
    # Accepted before the check, so that a refusal reaches browsers as a close code and reason
    # (a refused handshake is only an opaque 1006 to them).
    await websocket.accept()
    try:
        who = await asyncio.to_thread(principal_for_token, cp, token)
    except ApiError as exc:
        code, reason = _refusal(exc)
        await websocket.close(code=code, reason=reason)
        return
    if who.role == "agent":
        await websocket.close(code=4403, reason="agents do not receive live events; log in as a user")
        return
    if who.role == "super_user":
        await websocket.close(code=4403, reason="super users read their budgets and usage through the API")
        return
    sub = cp.events.subscribe(who.role, who.user_id)
    receiver = asyncio.create_task(_drain(websocket))
    clock = asyncio.get_running_loop().time
    try:
        for state in await asyncio.to_thread(_snapshot, cp, who.role, who.user_id):
            await websocket.send_json(state)
        beat_at = clock() + cp.settings.heartbeat_s
        check_at = clock() + cp.settings.ws_recheck_s
        while not receiver.done():
            event = await _next(sub.queue, max(0.0, min(beat_at, check_at) - clock()))
            if clock() >= check_at:
                try:
                    refusal = await asyncio.to_thread(_recheck, cp, token, who.role)
                except Exception:  # unable to check (a database blip): close rather than trust
                    log.warning("could not re-check a live connection's access; closing it", exc_info=True)
                    refusal = 1011, "could not re-check your access: reconnect"
                if refusal is not None:
                    await websocket.close(code=refusal[0], reason=refusal[1])
                    return
                check_at = clock() + cp.settings.ws_recheck_s
            if event is None and clock() < beat_at:
                continue
            if event is None:
                await websocket.send_json(
                    {
                        "type": "HEARTBEAT",
                        "at": datetime.now(UTC).isoformat(),
                        "replica": cp.settings.replica_name,
                        "dropped": sub.dropped,
                    }
                )
            else:
                await websocket.send_text(event)
            beat_at = clock() + cp.settings.heartbeat_s
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        cp.events.unsubscribe(sub)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await receiver


async def _drain(websocket: WebSocket) -> None:
    """Reads (and ignores) what the client sends, so a disconnect is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
