"""Putting governed transports into the openai and anthropic clients."""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from iron_cage.sdk._transport import ERROR_KEY, transports_for

if TYPE_CHECKING:
    from iron_cage.sdk._runtime import AgentRuntime

C = TypeVar("C")
SDKS = ("openai", "anthropic")
_lock = threading.Lock()
_installed: set[str] = set()


def _http_client(client: Any) -> Any:
    inner = getattr(client, "_client", None)
    if inner is None or not hasattr(inner, "_transport"):
        raise TypeError(
            f"cannot instrument {type(client).__name__}: expected an openai.OpenAI/AsyncOpenAI or "
            "anthropic.Anthropic/AsyncAnthropic client (or one built on them)"
        )
    return inner


def wrap(client: Any, runtime: AgentRuntime | None) -> None:
    """Governs every request ``client`` sends: by ``runtime``, or (None) by the current runtime."""
    http = _http_client(client)
    tops = [cls.__module__.split(".")[0] for cls in type(http).__mro__]
    top = next((t for t in tops if t in ("httpx", "httpx2")), None)
    if top is None:
        raise TypeError(
            f"cannot instrument {type(client).__name__}: its HTTP client is neither httpx nor httpx2"
        )
    mod = sys.modules.get(top) or importlib.import_module(top)
    sync_cls, async_cls = transports_for(mod)
    transport = http._transport
    if isinstance(transport, (sync_cls, async_cls)):
        transport.runtime = runtime  # type: ignore[attr-defined]
        return
    is_async = hasattr(transport, "handle_async_request")
    http._transport = (async_cls if is_async else sync_cls)(transport, runtime)
    install_error_mapping(type(client).__module__.split(".")[0])


def install_error_mapping(sdk: str) -> None:
    """SDKs raise the iron-cage exception carried by a refusal, not an APIStatusError."""
    with _lock:
        if f"errors:{sdk}" in _installed:
            return
        base = importlib.import_module(f"{sdk}._base_client").BaseClient
        original = base._make_status_error_from_response

        def _make_status_error_from_response(self: Any, response: Any) -> Any:
            exc = response.extensions.get(ERROR_KEY) if hasattr(response, "extensions") else None
            return exc if exc is not None else original(self, response)

        base._make_status_error_from_response = _make_status_error_from_response
        _installed.add(f"errors:{sdk}")


def install_auto_instrument() -> None:
    """Clients of the installed SDKs created from now on are governed by the current runtime."""
    with _lock:
        if "auto" in _installed:
            return
        _installed.add("auto")
    for sdk in SDKS:
        try:
            base = importlib.import_module(f"{sdk}._base_client")
        except ImportError:
            continue
        install_error_mapping(sdk)
        for name in ("SyncAPIClient", "AsyncAPIClient"):
            cls = getattr(base, name)
            cls.__init__ = _governing_init(cls.__init__)


def _governing_init(original: Any) -> Any:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        with contextlib.suppress(TypeError):
            wrap(self, None)

    return init
