"""Security headers on every answer of the API and the dashboard (pure ASGI, so 413s and 404s
get them too).

- ``Content-Security-Policy``: the dashboard loads scripts, styles and data from its own
  origin only, and no page may frame it (``frame-ancestors 'none'``); the interactive API docs
  (``/api/v1/docs``) run Swagger UI from the dashboard's build, which sets inline styles;
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options:
  DENY`` (for browsers without CSP level 2), ``Cross-Origin-Opener-Policy: same-origin``,
  ``Permissions-Policy`` without camera, microphone or location;
- ``Cache-Control: no-store`` on API answers (they carry tokens, budgets, secrets' metadata).

TLS (and so ``Strict-Transport-Security``) belongs to the proxy in front (docs/security.md).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI (served from the dashboard's build, started by a script file, no inline script)
# styles its elements inline.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, api_prefix: str, docs_path: str) -> None:
        self.app = app
        self.api_prefix = api_prefix
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path == self.docs_path else CSP
        api = path.startswith(self.api_prefix)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = csp
                for name, value in COMMON.items():
                    headers[name] = value
                if api:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)
