"""``WebSocket /ws``: live events for the dashboard and CLI, scoped by role."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from iron_cage.control_panel.deps import principal_for_token
from iron_cage.control_panel.errors import ApiError
from iron_cage.control_panel.models import Agent
from iron_cage.control_panel.routes.agents import budget_of, budget_out
from iron_cage.control_panel.state import ControlPanel

router = APIRouter()
UTC = timezone.utc


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


@router.websocket("/ws")
async def live(websocket: WebSocket) -> None:
    """Authenticate with ``?token=<access token>`` (browsers cannot set headers on a
    WebSocket) or ``Authorization: Bearer``. First a STATE_UPDATE per visible agent,
    then every event as it commits, and a HEARTBEAT when idle."""
    cp: ControlPanel = websocket.app.state.control_panel
    header = websocket.headers.get("authorization", "")
    token = websocket.query_params.get("token") or header.removeprefix("Bearer ").strip()
    try:
        who = await asyncio.to_thread(principal_for_token, cp, token)
    except ApiError as exc:
        await websocket.close(code=4401 if exc.status == 401 else 4403, reason=exc.message[:120])
        return
    if who.role == "agent":
        await websocket.close(code=4403, reason="agents do not receive live events; log in as a user")
        return
    await websocket.accept()
    sub = cp.events.subscribe(who.role, who.user_id)
    receiver = asyncio.create_task(_drain(websocket))
    try:
        for event in await asyncio.to_thread(_snapshot, cp, who.role, who.user_id):
            await websocket.send_json(event)
        while not receiver.done():
            try:
                event = await asyncio.wait_for(sub.queue.get(), timeout=cp.settings.heartbeat_s)
            except asyncio.TimeoutError:
                event = {
                    "type": "HEARTBEAT",
                    "at": datetime.now(UTC).isoformat(),
                    "replica": cp.settings.replica_name,
                    "dropped": sub.dropped,
                }
            await websocket.send_json(event)
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
