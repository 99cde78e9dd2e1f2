"""Events of a runtime, in either mode: one way to subscribe."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol


class _Bus(Protocol):
    def subscribe(self, callback: Any) -> int: ...
    def unsubscribe(self, subscription: int) -> bool: ...


class Events:
    """``on_event`` / ``remove_callback`` over the Rust core's event bus (``self._core``)."""

    def _bus(self) -> _Bus:
        return self._core  # type: ignore[attr-defined,no-any-return]  # set by each runtime

    def on_event(self, callback: Callable[[dict[str, Any]], None]) -> int:
        """Calls ``callback(event)`` for every event (``llm_call``, ``llm_refused``,
        ``llm_error``, ``pii_detected``, ``budget_threshold``, ``breaker_state``) on the
        thread that emits it. Returns an id for :meth:`remove_callback`."""
        return self._bus().subscribe(lambda text: callback(json.loads(text)))

    def remove_callback(self, callback_id: int) -> bool:
        """Stops a callback; False if it was not subscribed."""
        return self._bus().unsubscribe(callback_id)
