"""Governed HTTP transports for the `httpx` and `httpx2` clients inside the SDKs.

A request to a governed endpoint (chat completions, responses, messages,
embeddings) runs the Rust pipeline: ``begin`` prices and reserves it (a refusal
becomes a synthetic error response that the SDK turns back into our exception),
the (possibly capped) body goes upstream, and the reply is finished by
``complete`` or, for a stream, fed through the streaming guard.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from iron_cage import _core
from iron_cage._exceptions import IronCageError, PiiBlockedError
from iron_cage.library._context import CURRENT

if TYPE_CHECKING:
    from iron_cage.library._runtime import AgentRuntime

ERROR_KEY = "iron_cage_error"
_DROP = {"content-length", "content-encoding", "transfer-encoding"}


def refusal(mod: ModuleType, request: Any, exc: IronCageError) -> Any:
    """An error response that carries ``exc``; patched SDKs raise it as is. Status and
    code are the ones the Rust core gave the refusal (what router mode answers with)."""
    body = {
        "error": {
            "message": str(exc),
            "type": "iron_cage",
            "param": None,
            "code": exc.code or "invalid_request",
        }
    }
    headers = {"x-should-retry": "false", "content-type": "application/json"}
    return mod.Response(
        exc.status or 400, headers=headers, json=body, request=request, extensions={ERROR_KEY: exc}
    )


# The transport errors raised before a request left this process: nothing can have been billed.
_NOT_SENT = ("ConnectError", "ConnectTimeout", "PoolTimeout", "UnsupportedProtocol", "LocalProtocolError")


def _fail(mod: ModuleType, call: Any, exc: BaseException, *, answered: bool = False) -> None:
    """Finishes ``call`` after the transport raised ``exc``. A request that never went out
    costs nothing; one that did (a read timeout, the connection broken after sending, the
    caller giving up mid-call, a reply broken off) is charged the worst case reserved,
    since the provider may have processed and billed it."""
    not_sent = tuple(t for t in (getattr(mod, n, None) for n in _NOT_SENT) if isinstance(t, type))
    call.fail(type(exc).__name__, sent=answered or not isinstance(exc, not_sent))


def _with_body(mod: ModuleType, request: Any, body: bytes | None) -> Any:
    """``request`` carrying ``body`` (unchanged when ``body`` is None)."""
    if body is None:
        return request
    request.headers["content-length"] = str(len(body))
    request.stream = mod.ByteStream(body)
    request._content = body
    return request


def _with_content(response: Any, content: bytes | None) -> Any:
    """The read ``response`` with its content replaced (unchanged when None)."""
    if content is not None:
        response._content = content
        response.headers["content-length"] = str(len(content))
        if "content-encoding" in response.headers:
            del response.headers["content-encoding"]
    return response


def _headers(response: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROP]


def _admit(mod: ModuleType, rt: AgentRuntime, request: Any, body: bytes) -> tuple[Any, Any, bool]:
    """``(call, request to send, whether the reply streams)``; ``call`` is None
    for an ungoverned path, and the request is a refusal *response* when the
    pipeline refused the call."""
    try:
        if rt._tools.active:
            rt._tools.check_request(request.url.path, body)
        admitted = rt._core.begin(request.url.path, body)
    except IronCageError as exc:
        return None, refusal(mod, request, exc), False
    if admitted is None:
        return None, request, False
    call, upstream, is_stream = admitted
    return call, _with_body(mod, request, upstream), is_stream


def _settle(
    mod: ModuleType,
    rt: AgentRuntime,
    call: _core.CallCore,
    request: Any,
    response: Any,
    body: bytes,
    started: float,
) -> Any:
    """Charges and scans a read reply; the response to hand on."""
    rt._latencies.append(time.perf_counter() - started)  # list.append is atomic under the GIL
    status = response.status_code
    try:
        # Only an error status makes the breaker read Retry-After (a header lookup costs ~1 us).
        out = call.complete(status, body, response.headers.get("retry-after") if status >= 400 else None)
        if status < 400:
            rt._tools.check_reply(out if out is not None else body)
    except IronCageError as exc:
        return refusal(mod, request, exc)
    return _with_content(response, out)


class _Guarded:
    """Shared state of a governed stream."""

    def __init__(self, runtime: AgentRuntime, response: Any, core: _core.StreamCore, started: float) -> None:
        self._runtime = runtime
        self._response = response
        self._core = core
        self._started = started
        self._done = False
        runtime._open_streams.add(self)

    def _feed(self, chunk: bytes) -> bytes:
        try:
            return self._core.feed(chunk)
        except PiiBlockedError:
            # Block mode stopped the stream: charge what was streamed, then raise
            # the refusal (with its findings).
            self._finish(True)
            raise

    def _finish(self, complete: bool) -> bytes:
        if self._done:
            return b""
        self._done = True
        self._runtime._record_latency(time.perf_counter() - self._started)
        self._runtime._open_streams.discard(self)
        return self._core.finish(complete)

    def abandon(self) -> None:
        """The runtime is closing: charge what was emitted so far."""
        self._finish(True)


def make_transports(mod: ModuleType) -> tuple[type, type]:
    """Governed sync and async transport classes for ``mod`` (httpx or httpx2)."""

    class GuardedStream(_Guarded, mod.SyncByteStream):  # type: ignore[name-defined,misc]
        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self._response.iter_bytes():
                    out = self._feed(chunk)
                    if out:
                        yield out
            except PiiBlockedError:
                raise
            except BaseException:
                self._finish(False)
                raise
            tail = self._finish(True)
            if tail:
                yield tail

        def close(self) -> None:
            self._finish(True)
            self._response.close()

    class AsyncGuardedStream(_Guarded, mod.AsyncByteStream):  # type: ignore[name-defined,misc]
        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._response.aiter_bytes():
                    out = self._feed(chunk)
                    if out:
                        yield out
            except PiiBlockedError:
                raise
            except BaseException:
                self._finish(False)
                raise
            tail = self._finish(True)
            if tail:
                yield tail

        async def aclose(self) -> None:
            self._finish(True)
            await self._response.aclose()

    class GovernedTransport(mod.BaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, runtime: AgentRuntime | None = None) -> None:
            self.inner = inner
            self.runtime = runtime

        def handle_request(self, request: Any) -> Any:
            rt = self.runtime or CURRENT.get()
            if rt is None:
                return self.inner.handle_request(request)
            if request.method != "POST":
                return rt._send(mod, self.inner, request)
            call, request, is_stream = _admit(mod, rt, request, request.read())
            if call is None:
                return request if isinstance(request, mod.Response) else rt._send(mod, self.inner, request)
            started = time.perf_counter()
            try:
                response = rt._send(mod, self.inner, request)
            except BaseException as exc:
                _fail(mod, call, exc)
                raise
            if is_stream and response.status_code < 400:
                stream = GuardedStream(rt, response, call.stream(), started)
                return mod.Response(
                    response.status_code, headers=_headers(response), stream=stream, request=request
                )
            try:
                body = response.read()
            except BaseException as exc:
                _fail(mod, call, exc, answered=True)
                raise
            finally:
                response.close()
            return _settle(mod, rt, call, request, response, body, started)

        def close(self) -> None:
            self.inner.close()

    class AsyncGovernedTransport(mod.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, runtime: AgentRuntime | None = None) -> None:
            self.inner = inner
            self.runtime = runtime

        async def handle_async_request(self, request: Any) -> Any:
            rt = self.runtime or CURRENT.get()
            if rt is None:
                return await self.inner.handle_async_request(request)
            if request.method != "POST":
                return await rt._asend(mod, self.inner, request)
            call, request, is_stream = _admit(mod, rt, request, await request.aread())
            if call is None:
                if isinstance(request, mod.Response):
                    return request
                return await rt._asend(mod, self.inner, request)
            started = time.perf_counter()
            try:
                response = await rt._asend(mod, self.inner, request)
            except BaseException as exc:
                _fail(mod, call, exc)
                raise
            if is_stream and response.status_code < 400:
                stream = AsyncGuardedStream(rt, response, call.stream(), started)
                return mod.Response(
                    response.status_code, headers=_headers(response), stream=stream, request=request
                )
            try:
                body = await response.aread()
            except BaseException as exc:
                _fail(mod, call, exc, answered=True)
                raise
            finally:
                await response.aclose()
            return _settle(mod, rt, call, request, response, body, started)

        async def aclose(self) -> None:
            await self.inner.aclose()

    return GovernedTransport, AsyncGovernedTransport


_CLASSES: dict[str, tuple[type, type]] = {}


def transports_for(mod: ModuleType) -> tuple[type, type]:
    if mod.__name__ not in _CLASSES:
        _CLASSES[mod.__name__] = make_transports(mod)
    return _CLASSES[mod.__name__]
