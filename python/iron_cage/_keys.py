"""Library mode with a provider key the Control Panel holds.

The key is sealed to the Rust core at each handshake and refresh and opened
there; a :class:`KeyProxy` (``_core.KeyProxyCore``, loopback) signs the calls.
The agent's client keeps whatever placeholder key it was made with: requests
for the provider are rewritten to the proxy, which drops the placeholder, adds
the real key and forwards to the provider's base URL from the lease. No Python
object ever holds the key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from iron_cage import _core
from iron_cage._lease import ControlPanelLease
from iron_cage.library._instrument import is_provider_host

TOKEN_HEADER = "x-iron-cage-proxy-token"
#: API paths of the governed endpoints (with or without the ``/v1`` prefix).
_MODEL_PATHS = ("/chat/completions", "/responses", "/messages", "/embeddings", "/models")


class KeyProxy:
    """The key proxy of one runtime, and the rule for which requests go through it."""

    def __init__(self, lease: ControlPanelLease) -> None:
        self._core = _core.KeyProxyCore(lease._core)
        origin = urlsplit(self._core.origin)
        self._host = origin.hostname or "127.0.0.1"
        self._port = origin.port
        base = urlsplit(lease.provider_base_url or "")
        self._provider_origin = (base.hostname, base.port) if base.hostname else None

    def _for_provider(self, url: Any) -> bool:
        if is_provider_host(str(url.host)):
            return True
        if self._provider_origin is not None and (url.host, url.port) == self._provider_origin:
            return True
        path = str(url.path).removeprefix("/v1")
        return path.startswith(_MODEL_PATHS)

    def route(self, request: Any) -> Any:
        """``request`` sent to the proxy when it is for the provider; unchanged otherwise."""
        if not self._for_provider(request.url):
            return request
        request.url = request.url.copy_with(scheme="http", host=self._host, port=self._port)
        request.headers["host"] = f"{self._host}:{self._port}"
        request.headers[TOKEN_HEADER] = self._core.token
        for placeholder in ("authorization", "x-api-key"):
            if placeholder in request.headers:
                del request.headers[placeholder]
        return request

    def stop(self) -> None:
        self._core.stop()

    def __repr__(self) -> str:
        return f"KeyProxy({self._core.origin!r})"
