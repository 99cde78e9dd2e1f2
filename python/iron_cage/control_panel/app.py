"""``create_app``: the FastAPI application, its routers under /api/v1, and the lease sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlalchemy import delete

from iron_cage import __version__
from iron_cage.control_panel import errors, leasing, logins
from iron_cage.control_panel.bodylimit import BodyLimit
from iron_cage.control_panel.dashboard import STATIC, Dashboard, docs_page
from iron_cage.control_panel.headers import SecurityHeaders
from iron_cage.control_panel.models import PiiAlertMark
from iron_cage.control_panel.routes import (
    agents,
    alerts,
    auth,
    budget,
    live,
    policies,
    pools,
    processes,
    secrets,
    usage,
    users,
)
from iron_cage.control_panel.settings import Settings
from iron_cage.control_panel.state import ControlPanel

log = logging.getLogger("iron_cage.control_panel")
API = "/api/v1"


def _prune(cp: ControlPanel) -> None:
    """Old login counts, and PII alert marks of windows long past."""
    now = datetime.now(timezone.utc)
    with cp.db.session() as s:
        logins.prune(s, cp.settings, now)
        window = timedelta(seconds=max(cp.settings.pii_alert_window_s, 1) + 86_400)
        s.execute(delete(PiiAlertMark).where(PiiAlertMark.window_start < now - window))


async def _sweeper(cp: ControlPanel) -> None:
    """Expires overdue leases every ``sweep_interval_s`` and returns their unused budget; about
    once a minute, prunes login counts and PII alert marks that no longer matter."""
    rounds = 0
    while True:
        await asyncio.sleep(cp.settings.sweep_interval_s)
        try:
            n = await asyncio.to_thread(leasing.sweep, cp.db, cp.settings.lease_grace_s, cp.events)
            if n:
                log.info("expired %d lease(s)", n)
            rounds += 1
            if rounds * cp.settings.sweep_interval_s >= 60:
                rounds = 0
                await asyncio.to_thread(_prune, cp)
        except Exception:  # the sweeper must outlive a database blip
            log.exception("lease sweep failed; retrying")


def worker_app(settings: Settings) -> FastAPI:
    """The app of one worker of ``control-panel serve --workers N``: a Control Panel of its own
    (engine, LISTEN thread, sweeper) on the database the workers share, like a replica, named
    after the replica and its process id in /health and events."""
    mine = dataclasses.replace(settings, replica_name=f"{settings.replica_name}/{os.getpid()}")
    return create_app(control_panel=ControlPanel(mine))


def create_app(settings: Settings | None = None, *, control_panel: ControlPanel | None = None) -> FastAPI:
    cp = control_panel or ControlPanel(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweeper(cp)) if cp.settings.sweep_interval_s > 0 else None
        cp.events.start()
        try:
            yield
        finally:
            cp.events.stop()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="iron-cage Control Panel",
        version=__version__,
        description="Users, IC tokens, budget leasing, usage, provider keys and secrets for governed agents.",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # served below from the dashboard's build: works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.control_panel = cp
    errors.install(app)
    # Middleware added last runs first: security headers on everything (413s included), then the
    # body limit before anything reads a body, then CORS (only for the configured origins).
    if cp.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cp.settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,  # bearer tokens, never cookies
            max_age=600,
        )
    app.add_middleware(
        BodyLimit,
        limit=cp.settings.max_body_bytes,
        small_limit=cp.settings.max_auth_body_bytes,
        small_prefix=f"{API}/auth/",
    )
    app.add_middleware(SecurityHeaders, api_prefix=API, docs_path=f"{API}/docs")
    for module in (auth, users, agents, processes, budget, pools, policies, usage, alerts, secrets):
        app.include_router(module.router, prefix=API)
    app.include_router(live.router)

    @app.get(f"{API}/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {
            "status": "ok",
            "version": __version__,
            "database": cp.db.dialect,
            "replica": cp.settings.replica_name,
        }

    @app.get(f"{API}/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return docs_page(f"{API}/openapi.json")

    if (STATIC / "index.html").is_file():
        # Last, so the API and /ws routes win; any other page path answers the app (history
        # routing), while /api/... and missing files stay 404s.
        app.mount("/", Dashboard(directory=STATIC, html=True, api_prefix=API), name="dashboard")
    else:

        @app.get("/", include_in_schema=False)
        def no_dashboard() -> PlainTextResponse:
            return PlainTextResponse(
                "The dashboard is not built in this install: run `make dashboard` in the iron-cage "
                f"checkout (needs Node.js and npm). The API is at {API}/docs.",
                status_code=404,
            )

    return app
