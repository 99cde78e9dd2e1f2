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

# Generated from the operation list in _calls.py (the sync and async classes differ only in
# `await`); keep the two in step when adding an operation.

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

import httpx

from iron_cage._exceptions import ControlPanelError
from iron_cage.client import _calls as c
from iron_cage.client._calls import Call, Usd
from iron_cage.control_panel import schemas as m
from iron_cage.control_panel.routes import alerts as a

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


class ControlPanelClient:
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

    def me(self) -> m.UserOut:
        """Your own account."""
        return self._run(c.me())

    def list_users(self) -> list[m.UserOut]:
        return self._run(c.list_users())

    def create_user(
        self, email: str, *, name: str = "", role: str = "developer", password: str | None = None
    ) -> m.UserCreated:
        """Without a password the server generates one and returns it once (``.password``)."""
        return self._run(c.create_user(email, name or email.split("@")[0], role, password))

    def suspend_user(self, user_id: int) -> m.UserOut:
        return self._run(c.user_action(user_id, "suspend"))

    def activate_user(self, user_id: int) -> m.UserOut:
        return self._run(c.user_action(user_id, "activate"))

    def reset_password(self, user_id: int) -> m.PasswordOut:
        return self._run(c.reset_password(user_id))

    def delete_user(self, user_id: int) -> None:
        return self._run(c.delete_user(user_id))

    def list_agents(self) -> list[m.AgentOut]:
        return self._run(c.list_agents())

    def create_agent(
        self,
        name: str,
        *,
        project: str = "default",
        provider: str = "openai",
        owner_id: int | None = None,
        budget_usd: Usd | None = None,
    ) -> m.AgentOut:
        return self._run(c.create_agent(name, project, provider, owner_id, budget_usd))

    def get_agent(self, agent_id: int) -> m.AgentOut:
        return self._run(c.get_agent(agent_id))

    def stop_agent(self, agent_id: int) -> m.AgentOut:
        """Its runtime stops admitting calls within seconds; no new leases until resumed."""
        return self._run(c.agent_action(agent_id, "stop"))

    def resume_agent(self, agent_id: int) -> m.AgentOut:
        return self._run(c.agent_action(agent_id, "resume"))

    def get_budget(self, agent_id: int) -> m.BudgetOut:
        return self._run(c.get_budget(agent_id))

    def set_budget(self, agent_id: int, limit_usd: Usd) -> m.BudgetOut:
        return self._run(c.set_budget(agent_id, limit_usd))

    def create_token(self, agent_id: int, name: str = "") -> m.TokenCreated:
        """A new IC token (``.token``, shown once)."""
        return self._run(c.create_token(agent_id, name))

    def list_tokens(self, agent_id: int) -> list[m.TokenOut]:
        return self._run(c.list_tokens(agent_id))

    def revoke_token(self, token_id: int) -> None:
        return self._run(c.revoke_token(token_id))

    def regenerate_token(self, token_id: int) -> m.TokenCreated:
        return self._run(c.regenerate_token(token_id))

    def request_budget(self, agent_id: int, amount_usd: Usd, reason: str = "") -> m.BudgetRequestOut:
        return self._run(c.request_budget(agent_id, amount_usd, reason))

    def list_budget_requests(self, status: str | None = None) -> list[m.BudgetRequestOut]:
        return self._run(c.list_budget_requests(status))

    def approve_budget_request(self, request_id: int) -> m.BudgetRequestOut:
        return self._run(c.decide_budget_request(request_id, "approve"))

    def reject_budget_request(self, request_id: int) -> m.BudgetRequestOut:
        return self._run(c.decide_budget_request(request_id, "reject"))

    def list_leases(self, agent_id: int | None = None, status: str | None = None) -> list[m.LeaseOut]:
        return self._run(c.list_leases(agent_id, status))

    def usage_summary(
        self, *, since: str | None = None, until: str | None = None, agent_id: int | None = None
    ) -> m.UsageTotals:
        return self._run(c.usage_summary(since, until, agent_id))

    def usage_breakdown(
        self,
        by: str = "model",
        *,
        since: str | None = None,
        until: str | None = None,
        agent_id: int | None = None,
    ) -> list[m.UsageGroup]:
        return self._run(c.usage_breakdown(by, since, until, agent_id))

    def usage_timeseries(
        self,
        bucket: str = "hour",
        *,
        since: str | None = None,
        until: str | None = None,
        agent_id: int | None = None,
    ) -> list[m.UsagePoint]:
        return self._run(c.usage_timeseries(bucket, since, until, agent_id))

    def traces(
        self, *, agent_id: int | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[m.TraceOut]:
        return self._run(c.traces(agent_id, limit, before_id))

    def create_secret(
        self, name: str, value: str, *, environment: str = "production", description: str = ""
    ) -> m.SecretOut:
        return self._run(c.create_secret(name, value, environment, description))

    def list_secrets(self, *, name: str | None = None, environment: str | None = None) -> list[m.SecretOut]:
        return self._run(c.list_secrets(name, environment))

    def get_secret(self, secret_id: int) -> m.SecretOut:
        """Admins and agents get ``.value``; other roles see it masked."""
        return self._run(c.get_secret(secret_id))

    def update_secret(
        self, secret_id: int, *, value: str | None = None, description: str | None = None
    ) -> m.SecretOut:
        return self._run(c.update_secret(secret_id, value, description))

    def delete_secret(self, secret_id: int) -> None:
        return self._run(c.delete_secret(secret_id))

    def secret_audit(self, secret_name: str | None = None) -> list[m.SecretAuditOut]:
        return self._run(c.secret_audit(secret_name))

    def add_provider_key(
        self, provider: str, key: str, *, label: str = "", base_url: str = ""
    ) -> m.ProviderKeyOut:
        return self._run(c.add_provider_key(provider, key, label, base_url))

    def list_provider_keys(self) -> list[m.ProviderKeyOut]:
        return self._run(c.list_provider_keys())

    def list_alerts(self, agent_id: int | None = None) -> list[a.AlertOut]:
        """Fired alerts, newest first, with their recommended action."""
        return self._run(c.list_alerts(agent_id))

    def add_alert_channel(self, kind: str, target: str) -> a.ChannelOut:
        """``kind`` ``"webhook"`` (an URL) or ``"email"`` (an address)."""
        return self._run(c.add_alert_channel(kind, target))

    def list_limits(self, agent_id: int | None = None) -> list[a.LimitOut]:
        return self._run(c.list_limits(agent_id))

    def create_limit(self, kind: str, value: float, *, agent_id: int | None = None) -> a.LimitOut:
        return self._run(c.create_limit(kind, value, agent_id))


class AsyncControlPanelClient:
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

    async def me(self) -> m.UserOut:
        """Your own account."""
        return await self._run(c.me())

    async def list_users(self) -> list[m.UserOut]:
        return await self._run(c.list_users())

    async def create_user(
        self, email: str, *, name: str = "", role: str = "developer", password: str | None = None
    ) -> m.UserCreated:
        """Without a password the server generates one and returns it once (``.password``)."""
        return await self._run(c.create_user(email, name or email.split("@")[0], role, password))

    async def suspend_user(self, user_id: int) -> m.UserOut:
        return await self._run(c.user_action(user_id, "suspend"))

    async def activate_user(self, user_id: int) -> m.UserOut:
        return await self._run(c.user_action(user_id, "activate"))

    async def reset_password(self, user_id: int) -> m.PasswordOut:
        return await self._run(c.reset_password(user_id))

    async def delete_user(self, user_id: int) -> None:
        return await self._run(c.delete_user(user_id))

    async def list_agents(self) -> list[m.AgentOut]:
        return await self._run(c.list_agents())

    async def create_agent(
        self,
        name: str,
        *,
        project: str = "default",
        provider: str = "openai",
        owner_id: int | None = None,
        budget_usd: Usd | None = None,
    ) -> m.AgentOut:
        return await self._run(c.create_agent(name, project, provider, owner_id, budget_usd))

    async def get_agent(self, agent_id: int) -> m.AgentOut:
        return await self._run(c.get_agent(agent_id))

    async def stop_agent(self, agent_id: int) -> m.AgentOut:
        """Its runtime stops admitting calls within seconds; no new leases until resumed."""
        return await self._run(c.agent_action(agent_id, "stop"))

    async def resume_agent(self, agent_id: int) -> m.AgentOut:
        return await self._run(c.agent_action(agent_id, "resume"))

    async def get_budget(self, agent_id: int) -> m.BudgetOut:
        return await self._run(c.get_budget(agent_id))

    async def set_budget(self, agent_id: int, limit_usd: Usd) -> m.BudgetOut:
        return await self._run(c.set_budget(agent_id, limit_usd))

    async def create_token(self, agent_id: int, name: str = "") -> m.TokenCreated:
        """A new IC token (``.token``, shown once)."""
        return await self._run(c.create_token(agent_id, name))

    async def list_tokens(self, agent_id: int) -> list[m.TokenOut]:
        return await self._run(c.list_tokens(agent_id))

    async def revoke_token(self, token_id: int) -> None:
        return await self._run(c.revoke_token(token_id))

    async def regenerate_token(self, token_id: int) -> m.TokenCreated:
        return await self._run(c.regenerate_token(token_id))

    async def request_budget(self, agent_id: int, amount_usd: Usd, reason: str = "") -> m.BudgetRequestOut:
        return await self._run(c.request_budget(agent_id, amount_usd, reason))

    async def list_budget_requests(self, status: str | None = None) -> list[m.BudgetRequestOut]:
        return await self._run(c.list_budget_requests(status))

    async def approve_budget_request(self, request_id: int) -> m.BudgetRequestOut:
        return await self._run(c.decide_budget_request(request_id, "approve"))

    async def reject_budget_request(self, request_id: int) -> m.BudgetRequestOut:
        return await self._run(c.decide_budget_request(request_id, "reject"))

    async def list_leases(self, agent_id: int | None = None, status: str | None = None) -> list[m.LeaseOut]:
        return await self._run(c.list_leases(agent_id, status))

    async def usage_summary(
        self, *, since: str | None = None, until: str | None = None, agent_id: int | None = None
    ) -> m.UsageTotals:
        return await self._run(c.usage_summary(since, until, agent_id))

    async def usage_breakdown(
        self,
        by: str = "model",
        *,
        since: str | None = None,
        until: str | None = None,
        agent_id: int | None = None,
    ) -> list[m.UsageGroup]:
        return await self._run(c.usage_breakdown(by, since, until, agent_id))

    async def usage_timeseries(
        self,
        bucket: str = "hour",
        *,
        since: str | None = None,
        until: str | None = None,
        agent_id: int | None = None,
    ) -> list[m.UsagePoint]:
        return await self._run(c.usage_timeseries(bucket, since, until, agent_id))

    async def traces(
        self, *, agent_id: int | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[m.TraceOut]:
        return await self._run(c.traces(agent_id, limit, before_id))

    async def create_secret(
        self, name: str, value: str, *, environment: str = "production", description: str = ""
    ) -> m.SecretOut:
        return await self._run(c.create_secret(name, value, environment, description))

    async def list_secrets(
        self, *, name: str | None = None, environment: str | None = None
    ) -> list[m.SecretOut]:
        return await self._run(c.list_secrets(name, environment))

    async def get_secret(self, secret_id: int) -> m.SecretOut:
        """Admins and agents get ``.value``; other roles see it masked."""
        return await self._run(c.get_secret(secret_id))

    async def update_secret(
        self, secret_id: int, *, value: str | None = None, description: str | None = None
    ) -> m.SecretOut:
        return await self._run(c.update_secret(secret_id, value, description))

    async def delete_secret(self, secret_id: int) -> None:
        return await self._run(c.delete_secret(secret_id))

    async def secret_audit(self, secret_name: str | None = None) -> list[m.SecretAuditOut]:
        return await self._run(c.secret_audit(secret_name))

    async def add_provider_key(
        self, provider: str, key: str, *, label: str = "", base_url: str = ""
    ) -> m.ProviderKeyOut:
        return await self._run(c.add_provider_key(provider, key, label, base_url))

    async def list_provider_keys(self) -> list[m.ProviderKeyOut]:
        return await self._run(c.list_provider_keys())

    async def list_alerts(self, agent_id: int | None = None) -> list[a.AlertOut]:
        """Fired alerts, newest first, with their recommended action."""
        return await self._run(c.list_alerts(agent_id))

    async def add_alert_channel(self, kind: str, target: str) -> a.ChannelOut:
        """``kind`` ``"webhook"`` (an URL) or ``"email"`` (an address)."""
        return await self._run(c.add_alert_channel(kind, target))

    async def list_limits(self, agent_id: int | None = None) -> list[a.LimitOut]:
        return await self._run(c.list_limits(agent_id))

    async def create_limit(self, kind: str, value: float, *, agent_id: int | None = None) -> a.LimitOut:
        return await self._run(c.create_limit(kind, value, agent_id))
