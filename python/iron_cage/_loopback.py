"""What the router and the fake provider share: a loopback server run by the core."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, TypeVar

_S = TypeVar("_S", bound="LoopbackServer")


class _ServerCore(Protocol):
    @property
    def base_url(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def is_running(self) -> bool: ...
    def stop(self) -> None: ...


class LoopbackServer:
    """A server on its own threads: ``base_url``, ``port``, ``is_running``, ``stop()``, a context manager."""

    _core: _ServerCore

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return self._core.base_url

    @property
    def port(self) -> int:
        return self._core.port

    @property
    def is_running(self) -> bool:
        return self._core.is_running

    def stop(self) -> None:
        """Stops serving. Idempotent."""
        self._core.stop()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
