"""Request-size limit: an oversize body is answered 413 before the application reads it (and a
URL holding a NUL character 400, before any route sees it).

Pure ASGI, so it sees what the server sees: a ``Content-Length`` above the limit is refused
from the headers alone; a body without one (``Transfer-Encoding: chunked``) is read up to
the limit and refused as soon as it passes it, else handed on whole to the application.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iron_cage.control_panel.errors import body


class BodyLimit:
    """``limit`` bytes for every request; ``small_limit`` for paths under ``small_prefix``."""

    def __init__(self, app: ASGIApp, *, limit: int, small_limit: int, small_prefix: str) -> None:
        self.app = app
        self.limit = limit
        self.small_limit = small_limit
        self.small_prefix = small_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        query: bytes = scope.get("query_string", b"")
        if "\x00" in path or b"%00" in query.lower() or b"\x00" in query:
            await _answer(
                send,
                400,
                body(
                    "invalid_request",
                    "the URL contains a NUL character (%00): no path or query parameter takes one",
                ),
            )
            return
        limit = self.small_limit if path.startswith(self.small_prefix) else self.limit
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await _refuse(send, path, limit, f"Content-Length says {declared} bytes")
                return
            # The server delivers at most Content-Length bytes: nothing more to count.
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, path, limit, f"more than {limit} bytes sent without Content-Length")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed Content-Length itself
    return None


async def _refuse(send: Send, path: str, limit: int, what: str) -> None:
    await _answer(
        send,
        413,
        body(
            "payload_too_large",
            f"request body too large ({what}): {path} accepts at most {limit} bytes; "
            "send a smaller body (usage reports: fewer per batch)",
            {"limit_bytes": limit},
        ),
    )


async def _answer(send: Send, status: int, error: dict[str, object]) -> None:
    payload = json.dumps(error).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                # The rest of the body is never read, so this connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
