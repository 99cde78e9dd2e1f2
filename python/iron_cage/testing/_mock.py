"""MockRuntime: an AgentRuntime whose LLM calls never leave the process."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from iron_cage import _core
from iron_cage.library._runtime import AgentRuntime


class MockRuntime(AgentRuntime):
    """Runs the real budget, breaker and PII engines, but answers every call
    in-process with FakeProvider's deterministic replies (exact usage, streams
    included) — no sockets. ``replies`` are used in order for the first calls
    (then the default reply); ``calls`` records what the agent sent::

        with MockRuntime(budget=0.01, replies=["Mail me at a@b.com"]) as rt:
            agent()                      # any openai/anthropic client code
        rt.calls[0]["request"]["model"]; rt.spent_usd; rt.metrics()["pii_findings"]
    """

    def __init__(
        self,
        budget: float | int | str | Decimal | _core.Budget | None = 100.0,
        safety_mode: str | None = "redact",
        circuit_breaker: bool = True,
        *,
        replies: Iterable[str] = (),
        **options: Any,
    ) -> None:
        super().__init__(budget, safety_mode, circuit_breaker, **options)
        self.calls: list[dict[str, Any]] = []
        self._replies = deque(replies)
        self._lock = threading.Lock()

    def _answer(self, mod: Any, request: Any) -> Any:
        body = request.read()
        with self._lock:
            n = len(self.calls) + 1
            text = self._replies.popleft() if self._replies else None
            try:
                sent = json.loads(body) if body else None
            except ValueError:
                sent = body.decode(errors="replace")
            self.calls.append({"n": n, "method": request.method, "path": request.url.path, "request": sent})
        rendered = _core.render_fake_reply(request.url.path, body, n, text)
        if rendered is None:
            return mod.Response(404, json={"error": {"message": f"MockRuntime has no {request.url.path}"}})
        content, stream = rendered
        kind = "text/event-stream" if stream else "application/json"
        return mod.Response(200, headers={"content-type": kind}, content=content, request=request)

    def _send(self, mod: Any, transport: Any, request: Any) -> Any:
        return self._answer(mod, request)

    async def _asend(self, mod: Any, transport: Any, request: Any) -> Any:
        return self._answer(mod, request)
