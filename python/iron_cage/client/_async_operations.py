"""Generated from ``_operations.py`` by ``python python/iron_cage/client/_generate.py``.
Do not edit: change ``_operations.py`` and run the generator.

Every operation of the Control Panel API as an ``async`` method of ``AsyncOperations``, which
``AsyncControlPanelClient`` runs over an httpx ``AsyncClient``.
"""

from __future__ import annotations

from typing import TypeVar

from iron_cage.client import _calls as c
from iron_cage.client._calls import Call, Usd
from iron_cage.control_panel import wire as m

T = TypeVar("T")


class AsyncOperations:
    async def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    async def rotate_signing_key(self) -> m.SigningKeyRotated:
        """A new access-token signing key; tokens signed before stay valid until they expire (admins)."""
        return await self._run(c.rotate_signing_key())

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

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Your own password; every session of yours ends, this client's too (log in again)."""
        return await self._run(c.change_password(current_password, new_password))

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
        pool_id: int | None = None,
    ) -> m.AgentOut:
        """``budget_usd`` drawn from ``pool_id`` when given (developers: their pool or team's)."""
        return await self._run(c.create_agent(name, project, provider, owner_id, budget_usd, pool_id))

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

    async def create_token(
        self, agent_id: int, name: str = "", *, environment: str = "production"
    ) -> m.TokenCreated:
        """A new IC token (``.token``, shown once), reading the agent's secrets of ``environment``."""
        return await self._run(c.create_token(agent_id, name, environment))

    async def list_tokens(self, agent_id: int) -> list[m.TokenOut]:
        return await self._run(c.list_tokens(agent_id))

    async def revoke_token(self, token_id: int) -> None:
        return await self._run(c.revoke_token(token_id))

    async def regenerate_token(self, token_id: int) -> m.TokenCreated:
        return await self._run(c.regenerate_token(token_id))

    async def list_all_tokens(self, *, revoked: bool | None = None) -> list[m.TokenListed]:
        """Every agent's IC tokens with the agent's name (admins: all; developers: their own)."""
        return await self._run(c.list_all_tokens(revoked))

    async def agent_metrics(self, agent_id: int, *, since: str | None = None) -> m.AgentMetricsOut:
        """The supervisor's work metrics and the agent's call metrics (latency, cache hits...)."""
        return await self._run(c.agent_metrics(agent_id, since))

    async def set_developer_budget(self, user_id: int, limit_usd: Usd) -> m.PoolOut:
        """Allocates to a developer: their agents' allocations are drawn from this pool (admins)."""
        return await self._run(c.set_pool("users", user_id, limit_usd))

    async def set_team_budget(self, team_id: int, limit_usd: Usd) -> m.PoolOut:
        """Allocates to a team: its members' agents draw from it (admins)."""
        return await self._run(c.set_pool("teams", team_id, limit_usd))

    async def list_pools(self) -> list[m.PoolOut]:
        return await self._run(c.list_pools())

    async def get_pool(self, pool_id: int) -> m.PoolOut:
        return await self._run(c.get_pool(pool_id))

    async def my_budgets(self) -> m.MyBudgets:
        """Your pool, your teams' pools and your agents' allocations (every role)."""
        return await self._run(c.my_budgets())

    async def allocate(self, agent_id: int, limit_usd: Usd, *, pool_id: int) -> m.BudgetOut:
        """Sets an agent's allocation, drawn from ``pool_id`` (developers: their pool or team's)."""
        return await self._run(c.allocate(agent_id, limit_usd, pool_id))

    async def create_team(self, name: str) -> m.TeamOut:
        return await self._run(c.create_team(name))

    async def list_teams(self) -> list[m.TeamOut]:
        return await self._run(c.list_teams())

    async def add_team_member(self, team_id: int, user_id: int) -> m.TeamOut:
        return await self._run(c.add_team_member(team_id, user_id))

    async def remove_team_member(self, team_id: int, user_id: int) -> None:
        return await self._run(c.remove_team_member(team_id, user_id))

    async def set_developer_models(
        self,
        user_id: int,
        *,
        allowed_models: list[str] | None = None,
        allowed_providers: list[str] | None = None,
    ) -> m.ModelPolicy:
        """The models and providers a developer's agents may call (None: any)."""
        return await self._run(c.set_user_models(user_id, allowed_models, allowed_providers))

    async def set_agent_models(
        self,
        agent_id: int,
        *,
        allowed_models: list[str] | None = None,
        allowed_providers: list[str] | None = None,
    ) -> m.AgentPolicyOut:
        """An agent's own lists; its developer's apply too."""
        return await self._run(c.set_agent_models(agent_id, allowed_models, allowed_providers))

    async def agent_models(self, agent_id: int) -> m.AgentPolicyOut:
        return await self._run(c.agent_model_policy(agent_id))

    async def set_user_pii_policy(
        self, user_id: int, egress: dict[str, str] | None = None, *, ingress: dict[str, str] | None = None
    ) -> m.PiiPolicy:
        """The PII policies for what a developer's agents send (``egress``: entity or "default" to
        allow, warn, pseudonymize, redact or block) and receive (``ingress``: no pseudonymize);
        None: none. Floors under each agent's own; both are replaced."""
        return await self._run(c.set_user_pii_policy(user_id, egress, ingress))

    async def set_agent_pii_policy(
        self, agent_id: int, egress: dict[str, str] | None = None, *, ingress: dict[str, str] | None = None
    ) -> m.AgentPiiPolicyOut:
        """An agent's own PII floors; its developer's apply too (the stricter per entity)."""
        return await self._run(c.set_agent_pii_policy(agent_id, egress, ingress))

    async def agent_pii_policy(self, agent_id: int) -> m.AgentPiiPolicyOut:
        return await self._run(c.agent_pii_policy(agent_id))

    async def unauthorized_actions(self, agent_id: int | None = None) -> list[m.UnauthorizedActionOut]:
        return await self._run(c.unauthorized_actions(agent_id))

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
        self,
        *,
        agent_id: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
        status: str | None = None,
        model: str | None = None,
    ) -> list[m.TraceOut]:
        return await self._run(c.traces(agent_id, limit, before_id, status, model))

    async def trace(self, trace_id: int) -> m.TraceDetailOut:
        """One call with its agent's name and its PII findings."""
        return await self._run(c.trace(trace_id))

    async def pii_findings(
        self,
        *,
        agent_id: int | None = None,
        entity: str | None = None,
        direction: str | None = None,
        limit: int = 100,
    ) -> list[m.PiiFindingOut]:
        """PII found in replies (``direction="reply"``) and in what calls sent (``"request"``,
        with the action taken), newest first: entity, severity, keyed HMAC, never values."""
        return await self._run(c.pii_findings(agent_id, entity, direction, limit))

    async def create_secret(
        self,
        name: str,
        value: str,
        *,
        environment: str = "production",
        description: str = "",
        agent_ids: list[int] | None = None,
        projects: list[str] | None = None,
    ) -> m.SecretOut:
        """Bound to ``agent_ids`` and ``projects``: their IC tokens of ``environment`` read it."""
        return await self._run(c.create_secret(name, value, environment, description, agent_ids, projects))

    async def list_secrets(
        self,
        *,
        name: str | None = None,
        environment: str | None = None,
    ) -> list[m.SecretOut]:
        return await self._run(c.list_secrets(name, environment))

    async def get_secret(self, secret_id: int) -> m.SecretOut:
        """Masked (``.value`` is None) for people; admins use ``reveal_secret``."""
        return await self._run(c.get_secret(secret_id))

    async def reveal_secret(self, secret_id: int) -> m.SecretOut:
        """The value in ``.value`` (admins; audited)."""
        return await self._run(c.reveal_secret(secret_id))

    async def update_secret(
        self,
        secret_id: int,
        *,
        value: str | None = None,
        description: str | None = None,
        agent_ids: list[int] | None = None,
        projects: list[str] | None = None,
    ) -> m.SecretOut:
        """``agent_ids``/``projects`` replace the bindings when given."""
        return await self._run(c.update_secret(secret_id, value, description, agent_ids, projects))

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

    async def list_alerts(self, agent_id: int | None = None) -> list[m.AlertOut]:
        """Fired alerts, newest first, with their recommended action."""
        return await self._run(c.list_alerts(agent_id))

    async def add_alert_channel(self, kind: str, target: str) -> m.ChannelOut:
        """``kind`` ``"webhook"`` (an URL) or ``"email"`` (an address)."""
        return await self._run(c.add_alert_channel(kind, target))

    async def list_limits(self, agent_id: int | None = None) -> list[m.LimitOut]:
        return await self._run(c.list_limits(agent_id))

    async def create_limit(self, kind: str, value: float, *, agent_id: int | None = None) -> m.LimitOut:
        return await self._run(c.create_limit(kind, value, agent_id))
