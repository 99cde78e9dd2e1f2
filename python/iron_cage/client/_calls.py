"""Each API operation once: method, path, body, and the pydantic model of its answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from iron_cage.control_panel import wire as m

T = TypeVar("T")
Usd = float | int | str | Decimal


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    answer: TypeAdapter[T]
    json: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in d.items() if v is not None}


def call(method: str, path: str, answer: Any, json: dict[str, Any] | None = None, **params: Any) -> Call[Any]:
    return Call(method, path, TypeAdapter(answer), _clean(json) if json is not None else None, _clean(params))


NONE: Any = None


# auth
def rotate_signing_key() -> Call[m.SigningKeyRotated]:
    return call("POST", "/auth/signing-keys/rotate", m.SigningKeyRotated)


# users
def me() -> Call[m.UserOut]:
    return call("GET", "/users/me", m.UserOut)


def list_users() -> Call[list[m.UserOut]]:
    return call("GET", "/users", list[m.UserOut])


def create_user(email: str, name: str, role: str, password: str | None) -> Call[m.UserCreated]:
    return call(
        "POST", "/users", m.UserCreated, {"email": email, "name": name, "role": role, "password": password}
    )


def change_password(current_password: str, new_password: str) -> Call[None]:
    body = {"current_password": current_password, "new_password": new_password}
    return call("POST", "/users/me/password", NONE, body)


def user_action(user_id: int, action: str) -> Call[m.UserOut]:
    return call("POST", f"/users/{user_id}/{action}", m.UserOut)


def reset_password(user_id: int) -> Call[m.PasswordOut]:
    return call("POST", f"/users/{user_id}/reset-password", m.PasswordOut)


def delete_user(user_id: int) -> Call[None]:
    return call("DELETE", f"/users/{user_id}", NONE)


# agents, tokens, budgets
def list_agents() -> Call[list[m.AgentOut]]:
    return call("GET", "/agents", list[m.AgentOut])


def create_agent(
    name: str,
    project: str,
    provider: str,
    owner_id: int | None,
    budget_usd: Usd | None,
    pool_id: int | None,
) -> Call[m.AgentOut]:
    body = {
        "name": name,
        "project": project,
        "provider": provider,
        "owner_id": owner_id,
        "budget_usd": budget_usd,
        "pool_id": pool_id,
    }
    return call("POST", "/agents", m.AgentOut, body)


def get_agent(agent_id: int) -> Call[m.AgentOut]:
    return call("GET", f"/agents/{agent_id}", m.AgentOut)


def agent_action(agent_id: int, action: str) -> Call[m.AgentOut]:
    return call("POST", f"/agents/{agent_id}/{action}", m.AgentOut)


def get_budget(agent_id: int) -> Call[m.BudgetOut]:
    return call("GET", f"/agents/{agent_id}/budget", m.BudgetOut)


def set_budget(agent_id: int, limit_usd: Usd) -> Call[m.BudgetOut]:
    return call("PUT", f"/agents/{agent_id}/budget", m.BudgetOut, {"limit_usd": limit_usd})


def create_token(agent_id: int, name: str, environment: str) -> Call[m.TokenCreated]:
    body = {"name": name, "environment": environment}
    return call("POST", f"/agents/{agent_id}/tokens", m.TokenCreated, body)


def list_tokens(agent_id: int) -> Call[list[m.TokenOut]]:
    return call("GET", f"/agents/{agent_id}/tokens", list[m.TokenOut])


def list_all_tokens(revoked: bool | None) -> Call[list[m.TokenListed]]:
    return call("GET", "/tokens", list[m.TokenListed], revoked=revoked)


def agent_metrics(agent_id: int, since: str | None) -> Call[m.AgentMetricsOut]:
    return call("GET", f"/agents/{agent_id}/metrics", m.AgentMetricsOut, since=since)


def revoke_token(token_id: int) -> Call[None]:
    return call("DELETE", f"/tokens/{token_id}", NONE)


def regenerate_token(token_id: int) -> Call[m.TokenCreated]:
    return call("POST", f"/tokens/{token_id}/regenerate", m.TokenCreated)


def set_pool(owner: str, owner_id: int, limit_usd: Usd) -> Call[m.PoolOut]:
    return call("PUT", f"/{owner}/{owner_id}/budget", m.PoolOut, {"limit_usd": limit_usd})


def list_pools() -> Call[list[m.PoolOut]]:
    return call("GET", "/budgets/pools", list[m.PoolOut])


def get_pool(pool_id: int) -> Call[m.PoolOut]:
    return call("GET", f"/budgets/pools/{pool_id}", m.PoolOut)


def my_budgets() -> Call[m.MyBudgets]:
    return call("GET", "/budgets/mine", m.MyBudgets)


def allocate(agent_id: int, limit_usd: Usd, pool_id: int) -> Call[m.BudgetOut]:
    body = {"limit_usd": limit_usd, "pool_id": pool_id}
    return call("PUT", f"/agents/{agent_id}/budget", m.BudgetOut, body)


def create_team(name: str) -> Call[m.TeamOut]:
    return call("POST", "/teams", m.TeamOut, {"name": name})


def list_teams() -> Call[list[m.TeamOut]]:
    return call("GET", "/teams", list[m.TeamOut])


def add_team_member(team_id: int, user_id: int) -> Call[m.TeamOut]:
    return call("PUT", f"/teams/{team_id}/members/{user_id}", m.TeamOut)


def remove_team_member(team_id: int, user_id: int) -> Call[None]:
    return call("DELETE", f"/teams/{team_id}/members/{user_id}", NONE)


def _lists(models: list[str] | None, providers: list[str] | None) -> dict[str, Any]:
    # Sent as given: null is "no restriction", so it is not left out like other unset fields.
    return {"allowed_models": models, "allowed_providers": providers}


def set_user_models(
    user_id: int, models: list[str] | None, providers: list[str] | None
) -> Call[m.ModelPolicy]:
    adapter = TypeAdapter(m.ModelPolicy)
    return Call("PUT", f"/users/{user_id}/model-policy", adapter, _lists(models, providers))


def set_agent_models(
    agent_id: int, models: list[str] | None, providers: list[str] | None
) -> Call[m.AgentPolicyOut]:
    adapter = TypeAdapter(m.AgentPolicyOut)
    return Call("PUT", f"/agents/{agent_id}/model-policy", adapter, _lists(models, providers))


def agent_model_policy(agent_id: int) -> Call[m.AgentPolicyOut]:
    return call("GET", f"/agents/{agent_id}/model-policy", m.AgentPolicyOut)


def set_user_pii_policy(
    user_id: int, egress: dict[str, str] | None, ingress: dict[str, str] | None
) -> Call[m.PiiPolicy]:
    # Sent as given: null is "no policy".
    body = {"egress": egress, "ingress": ingress}
    return Call("PUT", f"/users/{user_id}/pii-policy", TypeAdapter(m.PiiPolicy), body)


def set_agent_pii_policy(
    agent_id: int, egress: dict[str, str] | None, ingress: dict[str, str] | None
) -> Call[m.AgentPiiPolicyOut]:
    body = {"egress": egress, "ingress": ingress}
    return Call("PUT", f"/agents/{agent_id}/pii-policy", TypeAdapter(m.AgentPiiPolicyOut), body)


def agent_pii_policy(agent_id: int) -> Call[m.AgentPiiPolicyOut]:
    return call("GET", f"/agents/{agent_id}/pii-policy", m.AgentPiiPolicyOut)


def unauthorized_actions(agent_id: int | None) -> Call[list[m.UnauthorizedActionOut]]:
    return call("GET", "/unauthorized-actions", list[m.UnauthorizedActionOut], agent_id=agent_id)


def request_budget(agent_id: int, amount_usd: Usd, reason: str) -> Call[m.BudgetRequestOut]:
    body = {"agent_id": agent_id, "amount_usd": amount_usd, "reason": reason}
    return call("POST", "/budget/requests", m.BudgetRequestOut, body)


def list_budget_requests(status: str | None) -> Call[list[m.BudgetRequestOut]]:
    return call("GET", "/budget/requests", list[m.BudgetRequestOut], status=status)


def decide_budget_request(request_id: int, decision: str) -> Call[m.BudgetRequestOut]:
    return call("POST", f"/budget/requests/{request_id}/{decision}", m.BudgetRequestOut)


def list_leases(agent_id: int | None, status: str | None) -> Call[list[m.LeaseOut]]:
    return call("GET", "/budget/leases", list[m.LeaseOut], agent_id=agent_id, status=status)


# usage
def usage_summary(since: str | None, until: str | None, agent_id: int | None) -> Call[m.UsageTotals]:
    return call("GET", "/usage/summary", m.UsageTotals, since=since, until=until, agent_id=agent_id)


def usage_breakdown(
    by: str, since: str | None, until: str | None, agent_id: int | None
) -> Call[list[m.UsageGroup]]:
    return call(
        "GET", "/usage/breakdown", list[m.UsageGroup], by=by, since=since, until=until, agent_id=agent_id
    )


def usage_timeseries(
    bucket: str, since: str | None, until: str | None, agent_id: int | None
) -> Call[list[m.UsagePoint]]:
    return call(
        "GET",
        "/usage/timeseries",
        list[m.UsagePoint],
        bucket=bucket,
        since=since,
        until=until,
        agent_id=agent_id,
    )


def traces(
    agent_id: int | None,
    limit: int,
    before_id: int | None,
    status: str | None = None,
    model: str | None = None,
) -> Call[list[m.TraceOut]]:
    return call(
        "GET",
        "/traces",
        list[m.TraceOut],
        agent_id=agent_id,
        limit=limit,
        before_id=before_id,
        status=status,
        model=model,
    )


def trace(trace_id: int) -> Call[m.TraceDetailOut]:
    return call("GET", f"/traces/{trace_id}", m.TraceDetailOut)


def pii_findings(
    agent_id: int | None, entity: str | None, direction: str | None, limit: int
) -> Call[list[m.PiiFindingOut]]:
    return call(
        "GET",
        "/pii/findings",
        list[m.PiiFindingOut],
        agent_id=agent_id,
        entity=entity,
        direction=direction,
        limit=limit,
    )


# secrets and provider keys
def create_secret(
    name: str,
    value: str,
    environment: str,
    description: str,
    agent_ids: list[int] | None,
    projects: list[str] | None,
) -> Call[m.SecretOut]:
    body = {
        "name": name,
        "value": value,
        "environment": environment,
        "description": description,
        "agent_ids": agent_ids,
        "projects": projects,
    }
    return call("POST", "/secrets", m.SecretOut, body)


def list_secrets(name: str | None, environment: str | None) -> Call[list[m.SecretOut]]:
    return call("GET", "/secrets", list[m.SecretOut], name=name, environment=environment)


def get_secret(secret_id: int) -> Call[m.SecretOut]:
    return call("GET", f"/secrets/{secret_id}", m.SecretOut)


def reveal_secret(secret_id: int) -> Call[m.SecretOut]:
    return call("POST", f"/secrets/{secret_id}/reveal", m.SecretOut)


def update_secret(
    secret_id: int,
    value: str | None,
    description: str | None,
    agent_ids: list[int] | None,
    projects: list[str] | None,
) -> Call[m.SecretOut]:
    body = {"value": value, "description": description, "agent_ids": agent_ids, "projects": projects}
    return call("PUT", f"/secrets/{secret_id}", m.SecretOut, body)


def delete_secret(secret_id: int) -> Call[None]:
    return call("DELETE", f"/secrets/{secret_id}", NONE)


def secret_audit(secret_name: str | None) -> Call[list[m.SecretAuditOut]]:
    return call("GET", "/secrets/audit", list[m.SecretAuditOut], secret_name=secret_name)


def add_provider_key(provider: str, key: str, label: str, base_url: str) -> Call[m.ProviderKeyOut]:
    body = {"provider": provider, "key": key, "label": label, "base_url": base_url}
    return call("POST", "/providers/keys", m.ProviderKeyOut, body)


def list_provider_keys() -> Call[list[m.ProviderKeyOut]]:
    return call("GET", "/providers/keys", list[m.ProviderKeyOut])


# alerts and limits
def list_alerts(agent_id: int | None) -> Call[list[m.AlertOut]]:
    return call("GET", "/alerts", list[m.AlertOut], agent_id=agent_id)


def add_alert_channel(kind: str, target: str) -> Call[m.ChannelOut]:
    return call("POST", "/alerts/channels", m.ChannelOut, {"kind": kind, "target": target})


def list_limits(agent_id: int | None) -> Call[list[m.LimitOut]]:
    return call("GET", "/limits", list[m.LimitOut], agent_id=agent_id)


def create_limit(kind: str, value: float, agent_id: int | None) -> Call[m.LimitOut]:
    return call("POST", "/limits", m.LimitOut, {"kind": kind, "value": value, "agent_id": agent_id})
