"""Live events for WebSocket clients, across replicas.

Handlers call :func:`emit` inside their transaction. On PostgreSQL that is a
``pg_notify`` in the same transaction, so an event exists exactly when its change
committed, and every replica (the emitting one included) receives it through its
``LISTEN`` thread. On SQLite (one process) the events are delivered after commit.

Event types: ``STATE_UPDATE`` (an agent's budget), ``AGENT_EVENT`` (usage reported,
lease granted/returned/expired, agent stopped/resumed), ``COST_ALERT`` (a budget
threshold), ``PII_ALERT``, ``BREAKER_EVENT`` (a runtime reported an open or
half-open breaker) and ``HEARTBEAT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import Session

from iron_cage.control_panel.db import Database, tx_memo

log = logging.getLogger("iron_cage.control_panel")
CHANNEL = "iron_cage_events"
UTC = timezone.utc


def emit(
    s: Session, kind: str, agent_id: int | None = None, owner_id: int | None = None, **data: Any
) -> None:
    """Queues an event on ``s``: it is published if and when the transaction commits."""
    event = {
        "type": kind,
        "agent_id": agent_id,
        "owner_id": owner_id,
        "at": datetime.now(UTC).isoformat(),
        **data,
    }
    hub: EventHub | None = s.info.get("events")
    if hub is None:
        return
    if hub.db.dialect == "postgresql":
        # Sent with the transaction's other events in one statement just before it commits.
        tx_memo(s, "notify").setdefault("payloads", []).append(json.dumps(event, default=str))
    else:
        after_commit(s, lambda: hub.deliver(event))


# One round trip for all of a transaction's events, in the order they were emitted.
_NOTIFY_ALL = text("SELECT pg_notify(:c, p) FROM unnest(CAST(:ps AS text[])) AS p")


def _send_queued(s: Session) -> None:
    """``before_commit``: the transaction's events as NOTIFYs, which PostgreSQL delivers if and
    only if the commit that follows succeeds."""
    payloads = tx_memo(s, "notify").pop("payloads", None)
    if payloads:
        s.execute(_NOTIFY_ALL, {"c": CHANNEL, "ps": payloads})


def after_commit(s: Session, fn: Callable[[], object]) -> None:
    """Runs ``fn`` once ``s``'s transaction has committed (never if it rolls back)."""
    s.info.setdefault("after_commit", []).append(fn)


def after_rollback(s: Session, fn: Callable[[], object]) -> None:
    """Runs ``fn`` once ``s``'s transaction has rolled back (never if it commits): to record
    a refused request (an audit row of a failure) in a transaction of its own."""
    s.info.setdefault("after_rollback", []).append(fn)


def run_after_commit(s: Session) -> None:
    s.info.pop("after_rollback", None)
    for fn in s.info.pop("after_commit", ()):
        try:
            fn()
        except Exception:
            log.exception("after-commit action failed")


def run_after_rollback(s: Session) -> None:
    s.info.pop("after_commit", None)
    for fn in s.info.pop("after_rollback", ()):
        try:
            fn()
        except Exception:
            log.exception("after-rollback action failed")


@dataclass(eq=False)
class Subscriber:
    loop: asyncio.AbstractEventLoop
    #: events as the JSON text sent to the client, encoded once for every subscriber
    queue: asyncio.Queue[str]
    role: str
    user_id: int | None
    dropped: int = 0

    def sees(self, event: dict[str, Any]) -> bool:
        if self.role in ("admin", "viewer") or event.get("agent_id") is None:
            return True
        return self.role == "developer" and event.get("owner_id") == self.user_id

    def put(self, event: str) -> None:
        """On the subscriber's loop: a slow client loses its oldest events, never blocks the server."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


def _put_all(subs: list[Subscriber], event: str) -> None:
    for sub in subs:
        sub.put(event)


class EventHub:
    def __init__(self, db: Database, replica: str) -> None:
        self.db = db
        self.replica = replica
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self.delivered = 0
        if db.dialect == "postgresql" and not sa_event.contains(db.sessions, "before_commit", _send_queued):
            sa_event.listen(db.sessions, "before_commit", _send_queued)

    # -- publishing ---------------------------------------------------------------------------------
    def bind(self, s: Session) -> Session:
        s.info["events"] = self
        return s

    def deliver(self, event: dict[str, Any]) -> None:
        """Hands ``event`` to every subscriber who may see it: one wake-up of each event loop
        (not one per subscriber), which puts it in their queues."""
        with self._lock:
            subs = list(self._subs)
        by_loop: dict[asyncio.AbstractEventLoop, list[Subscriber]] = {}
        for sub in subs:
            if sub.sees(event):
                by_loop.setdefault(sub.loop, []).append(sub)
        # Encoded once here, not once per viewer: a hundred viewers cost one encoding.
        text = orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode() if by_loop else ""
        for loop, group in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(_put_all, group, text)
        self.delivered += 1

    # -- subscribers ---------------------------------------------------------------------------------
    def subscribe(self, role: str, user_id: int | None, max_queue: int = 1000) -> Subscriber:
        sub = Subscriber(asyncio.get_running_loop(), asyncio.Queue(max_queue), role, user_id)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    # -- PostgreSQL LISTEN ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.db.dialect != "postgresql" or self._listener is not None:
            return
        self._stop.clear()
        self._listener = threading.Thread(target=self._listen, name="iron-cage-listen", daemon=True)
        self._listener.start()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
            self._listener = None

    def _listen(self) -> None:
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            try:
                                self.deliver(json.loads(note.payload))
                            except ValueError:
                                log.warning("ignored a malformed event on %s", CHANNEL)
            except Exception:  # reconnect after a database restart
                if not self._stop.is_set():
                    log.exception("event listener lost its connection; reconnecting")
                    time.sleep(1)
