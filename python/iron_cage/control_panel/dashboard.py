"""The Vue dashboard's build (``dashboard/`` built into ``static/`` by ``make dashboard``, and
shipped in the wheel) and the API docs page that runs on the Swagger UI copied into it.

The dashboard routes in the browser's history (``/calls``, ``/agents/3``), so a reload or a
shared link asks the server for a page path: :class:`Dashboard` answers such paths with the
app's ``index.html``. Paths under the API prefix, ``/ws`` and anything that names a file
(``/assets/gone.js``) stay 404s, so an API client still gets its JSON error.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
SWAGGER = STATIC / "api-docs"


class Dashboard(StaticFiles):
    """Static files, with page paths (no file extension, not the API's) answered by the app."""

    def __init__(self, *, api_prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_root = api_prefix.strip("/").split("/")[0]

    def is_page(self, path: str) -> bool:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return True
        return parts[0] not in (self.api_root, "ws") and "." not in parts[-1]

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as e:
            if e.status_code != 404 or not self.is_page(path):
                raise
            return await super().get_response("index.html", scope)


def docs_page(openapi_url: str) -> HTMLResponse:
    """Swagger UI from the dashboard's build (``/api-docs/``), no CDN; without the build, a page
    that links the OpenAPI spec."""
    if not (SWAGGER / "swagger-ui-bundle.js").is_file():
        return HTMLResponse(
            "<!doctype html><title>iron-cage Control Panel API</title>"
            "<p>The interactive docs come with the dashboard's build, which this install lacks "
            "(run <code>make dashboard</code> in the iron-cage checkout). The OpenAPI spec is at "
            f'<a href="{html.escape(openapi_url)}">{html.escape(openapi_url)}</a>.</p>'
        )
    return HTMLResponse(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        "<title>iron-cage Control Panel API</title>"
        '<link rel=stylesheet href="/api-docs/swagger-ui.css"></head>'
        '<body><div id="swagger-ui"></div>'
        '<script src="/api-docs/swagger-ui-bundle.js"></script>'
        '<script src="/api-docs/init.js"></script></body></html>'
    )
