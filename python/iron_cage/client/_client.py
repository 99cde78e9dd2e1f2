"""Sync and async clients of the Control Panel API (httpx, typed pydantic models).

::

    from iron_cage.client import ControlPanelClient

    with ControlPanelClient("http://127.0.0.1:8700", email="admin@example.com", password="...") as cp:
        agent = cp.create_agent("lead-gen", budget_usd=50)
        token = cp.create_token(agent.id).token        # give this to the agent's runtime

Every operation of the API is a method; errors raise ``ic.ControlPanelError`` with the
HTTP ``status``, the error ``code`` and the server's message. An expired access token
is refreshed once, transparently, when the client logged in itself.
"""

# The operations are methods of Operations (_operations.py) and AsyncOperations (generated from
# it, _async_operations.py); these classes add the transport, login and refresh.

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

import httpx

from iron_cage._exceptions import ControlPanelError
from iron_cage.client._async_operations import AsyncOperations
from iron_cage.client._calls import Call
from iron_cage.client._operations import Operations
from iron_cage.control_panel import wire as m

T = TypeVar("T")
API = "/api/v1"


def _error(r: httpx.Response) -> ControlPanelError:
    try:
        err = r.json()["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", r.text[:200] or r.reason_phrase
    where = f"{r.request.method} {r.request.url.path}"
    return ControlPanelError(f"{where}: {r.status_code} {code}: {message}", status=r.status_code, code=code)


def _decode(call: Call[T], r: httpx.Response) -> T:
    if r.status_code >= 400:
        raise _error(r)
    if r.status_code == 204 or not r.content:
        return call.answer.validate_python(None)
    return call.answer.validate_python(r.json())


def _base(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(API) else url + API


class _Auth:
    def __init__(
        self, token: str | None, email: str | None, password: str | None, refresh: str | None
    ) -> None:
        if token is None and (email is None or password is None):
            raise ControlPanelError("pass token=<access token> or email= and password=")
        self.access = token
        self.refresh = refresh
        self.credentials = (email, password) if token is None else None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"} if self.access else {}

    def login_body(self) -> dict[str, str | None]:
        if self.credentials is None:
            raise ControlPanelError("this client was given a token, not email= and password=")
        return {"email": self.credentials[0], "password": self.credentials[1]}

    def logged_in(self, r: httpx.Response) -> m.TokenPair:
        if r.status_code >= 400:
            raise _error(r)
        pair = m.TokenPair.model_validate(r.json())
        self.access, self.refresh = pair.access_token, pair.refresh_token
        return pair

    def refreshed(self, r: httpx.Response) -> bool:
        if r.status_code >= 400:
            return False
        self.logged_in(r)
        return True


class ControlPanelClient(Operations):
    """Blocking client. ``token=`` an access token, or ``email=``/``password=`` to log in."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._auth = _Auth(token, email, password, refresh_token)
        self._http = httpx.Client(base_url=_base(base_url), timeout=timeout, transport=transport)

    @property
    def tokens(self) -> tuple[str | None, str | None]:
        """(access token, refresh token) as they are now (a refresh rotates both)."""
        return self._auth.access, self._auth.refresh

    def login(self) -> m.TokenPair:
        return self._auth.logged_in(self._http.post("/auth/login", json=self._auth.login_body()))

    def _refresh(self) -> bool:
        if self._auth.refresh is None:
            return False
        r = self._http.post("/auth/refresh", json={"refresh_token": self._auth.refresh})
        return self._auth.refreshed(r)

    def _send(self, call: Call[Any]) -> httpx.Response:
        return self._http.request(
            call.method, call.path, json=call.json, params=call.params, headers=self._auth.headers()
        )

    def _run(self, call: Call[T]) -> T:
        if self._auth.access is None:
            self.login()
        r = self._send(call)
        if r.status_code == 401 and self._refresh():
            r = self._send(call)
        return _decode(call, r)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControlPanelClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncControlPanelClient(AsyncOperations):
    """The same operations, ``await``-ed (``async with AsyncControlPanelClient(...) as cp``)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._auth = _Auth(token, email, password, refresh_token)
        self._http = httpx.AsyncClient(base_url=_base(base_url), timeout=timeout, transport=transport)

    async def login(self) -> m.TokenPair:
        return self._auth.logged_in(await self._http.post("/auth/login", json=self._auth.login_body()))

    async def _refresh(self) -> bool:
        if self._auth.refresh is None:
            return False
        r = await self._http.post("/auth/refresh", json={"refresh_token": self._auth.refresh})
        return self._auth.refreshed(r)

    async def _send(self, call: Call[Any]) -> httpx.Response:
        return await self._http.request(
            call.method, call.path, json=call.json, params=call.params, headers=self._auth.headers()
        )

    async def _run(self, call: Call[T]) -> T:
        if self._auth.access is None:
            await self.login()
        r = await self._send(call)
        if r.status_code == 401 and await self._refresh():
            r = await self._send(call)
        return _decode(call, r)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncControlPanelClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
