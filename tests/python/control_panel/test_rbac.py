"""Every endpoint x every role: who gets past authorization (anything but 401/403) and who not."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from .conftest import Api

ROLES = ("anonymous", "admin", "developer", "viewer", "super_user", "agent")
A, D, V, S, G = "admin", "developer", "viewer", "super_user", "agent"
# People who see agents; the read-only super user (S) sees only their own budgets and usage.
PEOPLE = {A, D, V}
_n = itertools.count()

# (method, path) -> roles allowed. Paths use the route templates; bodies are valid so that a
# refusal can only come from authorization.
MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/health"): set(ROLES),
    ("POST", "/api/v1/auth/login"): set(ROLES),
    ("POST", "/api/v1/auth/refresh"): set(ROLES),
    ("POST", "/api/v1/auth/logout"): PEOPLE | {S},
    ("POST", "/api/v1/auth/signing-keys/rotate"): {A},
    ("GET", "/api/v1/users/me"): PEOPLE | {S},
    ("POST", "/api/v1/users/me/password"): PEOPLE | {S},
    ("GET", "/api/v1/users"): {A},
    ("POST", "/api/v1/users"): {A},
    ("GET", "/api/v1/users/{user_id}"): {A},
    ("PATCH", "/api/v1/users/{user_id}"): {A},
    ("DELETE", "/api/v1/users/{user_id}"): {A},
    ("POST", "/api/v1/users/{user_id}/suspend"): {A},
    ("POST", "/api/v1/users/{user_id}/activate"): {A},
    ("POST", "/api/v1/users/{user_id}/reset-password"): {A},
    ("GET", "/api/v1/agents"): PEOPLE,
    ("POST", "/api/v1/agents"): {A, D},
    ("GET", "/api/v1/agents/{agent_id}"): PEOPLE | {G},
    ("PATCH", "/api/v1/agents/{agent_id}"): {A, D},
    ("POST", "/api/v1/agents/{agent_id}/stop"): {A, D},
    ("POST", "/api/v1/agents/{agent_id}/resume"): {A, D},
    ("GET", "/api/v1/agents/{agent_id}/budget"): PEOPLE | {G},
    ("GET", "/api/v1/agents/{agent_id}/metrics"): PEOPLE | {G},
    ("POST", "/api/v1/runtime/process"): {G},
    ("POST", "/api/v1/runtime/metrics"): {G},
    ("PUT", "/api/v1/agents/{agent_id}/budget"): {A},  # developers: within a pool (SCOPED)
    ("GET", "/api/v1/agents/{agent_id}/model-policy"): PEOPLE | {G},
    ("PUT", "/api/v1/agents/{agent_id}/model-policy"): {A},
    ("GET", "/api/v1/users/{user_id}/model-policy"): {A},
    ("PUT", "/api/v1/users/{user_id}/model-policy"): {A},
    ("GET", "/api/v1/agents/{agent_id}/pii-policy"): PEOPLE | {G},
    ("PUT", "/api/v1/agents/{agent_id}/pii-policy"): {A},
    ("GET", "/api/v1/users/{user_id}/pii-policy"): {A},
    ("PUT", "/api/v1/users/{user_id}/pii-policy"): {A},
    ("GET", "/api/v1/unauthorized-actions"): {A, D},
    ("PUT", "/api/v1/users/{user_id}/budget"): {A},
    ("PUT", "/api/v1/teams/{team_id}/budget"): {A},
    ("GET", "/api/v1/budgets/pools"): PEOPLE | {S},
    ("GET", "/api/v1/budgets/pools/{pool_id}"): PEOPLE,  # the developer's pool; S: their own (SCOPED)
    ("GET", "/api/v1/budgets/mine"): PEOPLE | {S},
    ("POST", "/api/v1/teams"): {A},
    ("GET", "/api/v1/teams"): PEOPLE,
    ("PUT", "/api/v1/teams/{team_id}/members/{user_id}"): {A},
    ("DELETE", "/api/v1/teams/{team_id}/members/{user_id}"): {A},
    ("POST", "/api/v1/agents/{agent_id}/tokens"): {A, D},
    ("GET", "/api/v1/agents/{agent_id}/tokens"): {A, D},
    ("DELETE", "/api/v1/tokens/{token_id}"): {A, D},
    ("POST", "/api/v1/tokens/{token_id}/regenerate"): {A, D},
    ("GET", "/api/v1/tokens"): {A, D},  # developers: their agents' tokens
    ("POST", "/api/v1/budget/handshake"): {G},
    ("POST", "/api/v1/budget/report"): {G},
    ("POST", "/api/v1/budget/refresh"): {G},
    ("POST", "/api/v1/budget/return"): {G},
    ("GET", "/api/v1/budget/leases"): PEOPLE,
    ("GET", "/api/v1/budget/leases/{lease_id}"): PEOPLE | {G},
    ("POST", "/api/v1/budget/requests"): {A, D},
    ("GET", "/api/v1/budget/requests"): PEOPLE,
    ("POST", "/api/v1/budget/requests/{request_id}/approve"): {A},
    ("POST", "/api/v1/budget/requests/{request_id}/reject"): {A},
    ("GET", "/api/v1/usage/summary"): PEOPLE | {S},
    ("GET", "/api/v1/usage/breakdown"): PEOPLE | {S},
    ("GET", "/api/v1/usage/timeseries"): PEOPLE | {S},
    ("GET", "/api/v1/traces"): PEOPLE,
    ("GET", "/api/v1/traces/{trace_id}"): PEOPLE,
    ("GET", "/api/v1/pii/findings"): PEOPLE,
    ("GET", "/api/v1/providers/keys"): PEOPLE,
    ("POST", "/api/v1/providers/keys"): {A},
    ("DELETE", "/api/v1/providers/keys/{key_id}"): {A},
    ("GET", "/api/v1/alerts"): PEOPLE,
    ("GET", "/api/v1/alerts/channels"): {A},
    ("POST", "/api/v1/alerts/channels"): {A},
    ("DELETE", "/api/v1/alerts/channels/{channel_id}"): {A},
    ("GET", "/api/v1/limits"): PEOPLE,
    ("POST", "/api/v1/limits"): {A},
    ("GET", "/api/v1/limits/{limit_id}"): PEOPLE,
    ("PATCH", "/api/v1/limits/{limit_id}"): {A},
    ("PUT", "/api/v1/limits/{limit_id}"): {A},
    ("DELETE", "/api/v1/limits/{limit_id}"): {A},
    ("POST", "/api/v1/secrets"): {A},
    ("GET", "/api/v1/secrets"): PEOPLE | {G},
    ("GET", "/api/v1/secrets/audit"): {A},
    ("GET", "/api/v1/secrets/{secret_id}"): PEOPLE | {G},
    ("POST", "/api/v1/secrets/{secret_id}/reveal"): {A},
    ("PUT", "/api/v1/secrets/{secret_id}"): {A},
    ("DELETE", "/api/v1/secrets/{secret_id}"): {A},
}

# Calls whose answer depends on whose object it is or what the body asks for, beyond the route:
# (what, method, path, body) -> roles allowed. {own} is the developer's agent, {other} another
# developer's, {pooled} a developer's agent in the developer's pool, {su_agent} and {su_pool} the
# super user's; {own_limit} and {other_limit} are limits of those agents. A str body is a field
# set to a new value each time (so every call really switches the provider).
SCOPED: dict[tuple[str, str, str, str | None], set[str]] = {
    ("switch own agent's provider", "PATCH", "/api/v1/agents/{own}", "provider"): {A},
    ("rename own agent's project", "PATCH", "/api/v1/agents/{own}", "project"): {A, D},
    ("limits of own agent", "GET", "/api/v1/limits?agent_id={own}", None): PEOPLE,
    ("a limit of own agent", "GET", "/api/v1/limits/{own_limit}", None): PEOPLE,
    ("limits of another developer's agent", "GET", "/api/v1/limits?agent_id={other}", None): {A, V},
    ("a limit of another developer's agent", "GET", "/api/v1/limits/{other_limit}", None): {A, V},
    ("another developer's agent", "GET", "/api/v1/agents/{other}", None): {A, V},
    ("own pooled agent's allocation", "PUT", "/api/v1/agents/{pooled}/budget", "limit_usd"): {A, D},
    ("the super user's pool", "GET", "/api/v1/budgets/pools/{su_pool}", None): {A, V, S},
    ("the super user's agent's budget", "GET", "/api/v1/agents/{su_agent}/budget", None): {A, V, S},
    ("the super user's agent", "GET", "/api/v1/agents/{su_agent}", None): {A, V},
    ("usage of the super user's agent", "GET", "/api/v1/usage/summary?agent_id={su_agent}", None): {A, V, S},
    ("usage of a developer's agent", "GET", "/api/v1/usage/summary?agent_id={own}", None): PEOPLE,
    ("traces of the super user's agent", "GET", "/api/v1/traces?agent_id={su_agent}", None): {A, V},
    ("a call of another developer's agent", "GET", "/api/v1/traces/{other_trace}", None): {A, V},
    ("a call of own agent", "GET", "/api/v1/traces/{own_trace}", None): PEOPLE,
    ("metrics of another developer's agent", "GET", "/api/v1/agents/{other}/metrics", None): {A, V},
}


class World:
    """Objects the calls act on; destructive calls get a fresh target each time."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.agent = api.agent(budget_usd=100, owner="developer")
        self.ic_token = api.ic_token(self.agent["id"])
        admin = api.as_("admin")
        api.as_("viewer")
        api.as_("super_user")
        self.lease = api.client.post(
            "/api/v1/budget/handshake", json={"ic_token": self.ic_token, "requested_usd": 50}
        ).json()
        self.refresh_tokens = {
            r: api.login(
                f"{r}@example.com" if r != A else "admin@example.com",
                "developer-password-1" if r != A else "admin-password-123",
            )["refresh_token"]
            for r in PEOPLE | {S}
        }
        self.admin = admin
        developer = api.user_id("developer")
        self.pool = self.put(f"/api/v1/users/{developer}/budget", {"limit_usd": 50})
        self.team = self.post("/api/v1/teams", {"name": "rbac"})
        self.trace = self.trace_id()

    def headers(self, role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == G:
            return self.api.auth(self.ic_token)
        return self.api.as_(role)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.api.client.post(path, json=body, headers=self.admin)
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.api.client.put(path, json=body, headers=self.admin)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def user_id(self) -> int:
        return int(
            self.post("/api/v1/users", {"email": f"u{next(_n)}@example.com", "name": "U"})["user"]["id"]
        )

    def token_id(self) -> int:
        return int(self.post(f"/api/v1/agents/{self.agent['id']}/tokens", {})["info"]["id"])

    def secret_id(self) -> int:
        return int(self.post("/api/v1/secrets", {"name": f"S{next(_n)}", "value": "v-123456789"})["id"])

    def key_id(self) -> int:
        return int(
            self.post("/api/v1/providers/keys", {"provider": "openai", "key": "sk-test-0123456789"})["id"]
        )

    def channel_id(self) -> int:
        return int(self.post("/api/v1/alerts/channels", {"kind": "email", "target": "a@example.com"})["id"])

    def limit_id(self) -> int:
        kind = ["max_tokens_per_request", "max_requests_per_minute", "daily_usd", "max_cost_per_request_usd"]
        n = next(_n)
        return int(
            self.post("/api/v1/limits", {"kind": kind[n % 4], "value": 1, "agent_id": self.fresh_agent()})[
                "id"
            ]
        )

    def fresh_agent(self) -> int:
        return int(self.post("/api/v1/agents", {"name": f"x{next(_n)}"})["id"])

    def trace_id(self, agent_id: int | None = None) -> int:
        """A call reported for the agent (the developer's by default), as its runtime would."""
        token = self.ic_token if agent_id is None else self.api.ic_token(agent_id)
        r = self.api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 1})
        assert r.status_code == 201, r.text
        lease = r.json()["lease_id"]
        rid = f"trace-{next(_n)}"
        r = self.api.client.post(
            "/api/v1/budget/report",
            json={"lease_id": lease, "reports": [{"request_id": rid, "model": "gpt-4o", "cost_usd": 0.001}]},
            headers=self.api.auth(token),
        )
        assert r.status_code == 200, r.text
        calls = self.api.client.get("/api/v1/traces?limit=1000", headers=self.admin).json()
        return int(next(c["id"] for c in calls if c["request_id"] == rid))

    def request_id(self) -> int:
        return int(
            self.post("/api/v1/budget/requests", {"agent_id": self.agent["id"], "amount_usd": 1})["id"]
        )

    def params(self) -> dict[str, Callable[[], int | str]]:
        return {
            "user_id": self.user_id,
            "agent_id": lambda: int(self.agent["id"]),
            "token_id": self.token_id,
            "secret_id": self.secret_id,
            "key_id": self.key_id,
            "request_id": self.request_id,
            "trace_id": lambda: self.trace,
            "team_id": lambda: int(self.team["id"]),
            "pool_id": lambda: int(self.pool["id"]),
        }

    def body(self, method: str, path: str, role: str) -> dict[str, Any] | None:
        lease = self.lease["lease_id"]
        if (method, path) == ("POST", "/api/v1/limits"):
            return {"kind": "daily_usd", "value": 5, "agent_id": self.fresh_agent()}
        if path == "/api/v1/auth/refresh":
            return {
                "refresh_token": self.api.login("admin@example.com", "admin-password-123")["refresh_token"]
            }
        bodies: dict[tuple[str, str], dict[str, Any]] = {
            ("POST", "/api/v1/auth/login"): {"email": "admin@example.com", "password": "admin-password-123"},
            ("POST", "/api/v1/auth/logout"): {"refresh_token": self.refresh_tokens.get(role, "rt_x")},
            ("POST", "/api/v1/users/me/password"): {"current_password": "wrong", "new_password": "x" * 20},
            ("POST", "/api/v1/users"): {"email": f"n{next(_n)}@example.com", "name": "N"},
            ("PATCH", "/api/v1/users/{user_id}"): {"name": "Renamed"},
            ("POST", "/api/v1/agents"): {"name": "a"},
            ("PATCH", "/api/v1/agents/{agent_id}"): {"project": "p2"},
            ("PUT", "/api/v1/agents/{agent_id}/budget"): {"limit_usd": 100},
            ("POST", "/api/v1/agents/{agent_id}/tokens"): {"name": "x"},
            ("POST", "/api/v1/budget/handshake"): {"requested_usd": 0.01},
            ("PUT", "/api/v1/agents/{agent_id}/model-policy"): {"allowed_models": None},
            ("PUT", "/api/v1/users/{user_id}/model-policy"): {"allowed_models": ["gpt-4o-mini"]},
            ("PUT", "/api/v1/agents/{agent_id}/pii-policy"): {"egress": None},
            ("PUT", "/api/v1/users/{user_id}/pii-policy"): {"egress": {"API_KEY": "block"}},
            ("PUT", "/api/v1/users/{user_id}/budget"): {"limit_usd": 5},
            ("PUT", "/api/v1/teams/{team_id}/budget"): {"limit_usd": 5},
            ("POST", "/api/v1/teams"): {"name": f"team-{next(_n)}"},
            ("POST", "/api/v1/runtime/process"): {"local_id": "lg-7a3f9c2d", "state": "running", "pid": 7},
            ("POST", "/api/v1/runtime/metrics"): {"unit": "leads", "done": 3, "total": 10},
            ("POST", "/api/v1/budget/report"): {
                "lease_id": lease,
                "reports": [{"request_id": f"r{next(_n)}", "model": "gpt-4o", "cost_usd": 0.001}],
            },
            ("POST", "/api/v1/budget/refresh"): {"lease_id": lease, "requested_usd": 0.01},
            ("POST", "/api/v1/budget/return"): {"lease_id": "lse_other"},
            ("POST", "/api/v1/budget/requests"): {"agent_id": self.agent["id"], "amount_usd": 1},
            ("POST", "/api/v1/providers/keys"): {"provider": "anthropic", "key": "sk-ant-0123456789abc"},
            ("POST", "/api/v1/secrets"): {"name": f"N{next(_n)}", "value": "value-123456"},
            ("POST", "/api/v1/alerts/channels"): {"kind": "webhook", "target": "http://127.0.0.1:9/x"},
            ("PATCH", "/api/v1/limits/{limit_id}"): {"value": 7},
            ("PUT", "/api/v1/limits/{limit_id}"): {"value": 8},
            ("PUT", "/api/v1/secrets/{secret_id}"): {"value": "value-654321"},
        }
        return bodies.get((method, path))


def test_matrix_covers_every_endpoint(api: Api) -> None:
    spec = api.client.get("/api/v1/openapi.json").json()
    routes = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    assert routes == set(MATRIX), (
        f"add to MATRIX: {sorted(routes - set(MATRIX))}; stale: {sorted(set(MATRIX) - routes)}"
    )


def test_every_endpoint_refuses_every_role_outside_the_matrix(api: Api) -> None:
    world = World(api)
    wrong: list[str] = []
    for (method, path), allowed in MATRIX.items():
        for role in ROLES:
            url = path
            for name, make in world.params().items():
                if "{" + name + "}" in url:
                    url = url.replace("{" + name + "}", str(make()))
            r = api.client.request(
                method, url, json=world.body(method, path, role), headers=world.headers(role)
            )
            refused = r.status_code in (401, 403)
            if refused == (role in allowed) or r.status_code >= 500:
                wrong.append(f"{method} {path} as {role}: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_scoped_calls_refuse_every_role_outside_the_matrix(api: Api) -> None:
    world = World(api)
    admin = world.admin
    other_dev = world.post(
        "/api/v1/users",
        {"email": "other@example.com", "name": "O", "role": "developer", "password": "developer-password-1"},
    )["user"]["id"]
    other = world.post("/api/v1/agents", {"name": "theirs", "owner_id": other_dev, "budget_usd": 5})["id"]
    own = world.agent["id"]
    pooled = world.post(
        "/api/v1/agents",
        {"name": "pooled", "owner_id": api.user_id(D), "pool_id": world.pool["id"], "budget_usd": 1},
    )["id"]
    su = api.user_id(S)
    su_pool = world.put(f"/api/v1/users/{su}/budget", {"limit_usd": 5})["id"]
    su_agent = world.post(
        "/api/v1/agents", {"name": "su", "owner_id": su, "pool_id": su_pool, "budget_usd": 2}
    )["id"]
    own_trace, other_trace = world.trace, world.trace_id(other)  # before the daily limits below
    ids = {
        "own": own,
        "other": other,
        "pooled": pooled,
        "su_pool": su_pool,
        "su_agent": su_agent,
        "own_limit": world.post("/api/v1/limits", {"agent_id": own, "kind": "daily_usd", "value": 5})["id"],
        "other_limit": world.post("/api/v1/limits", {"agent_id": other, "kind": "daily_usd", "value": 5})[
            "id"
        ],
        "own_trace": own_trace,
        "other_trace": other_trace,
    }
    wrong: list[str] = []
    for (what, method, path, field), allowed in SCOPED.items():
        for role in ROLES:
            body: dict[str, Any] | None = None
            if field == "limit_usd":
                body = {"limit_usd": f"0.{next(_n) % 9 + 1}"}
            elif field:
                body = {field: f"p{next(_n)}"}
            r = api.client.request(method, path.format(**ids), json=body, headers=world.headers(role))
            refused = r.status_code in (401, 403)
            if refused == (role in allowed) or r.status_code >= 500:
                wrong.append(f"{what} as {role}: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)
    same = api.client.get(f"/api/v1/agents/{own}", headers=admin).json()["provider"]
    r = api.client.patch(f"/api/v1/agents/{own}", json={"provider": "mistral"}, headers=world.headers(D))
    assert r.json()["error"]["message"] == (
        "only admins change an agent's provider (it decides which provider key the runtime receives): "
        f"agent {own} stays on {same!r}; ask an admin to switch it"
    )
    assert (
        api.client.patch(
            f"/api/v1/agents/{own}", json={"provider": same, "name": "kept"}, headers=world.headers(D)
        ).json()["name"]
        == "kept"
    )  # sending the provider it already has is not a switch
    listed = api.client.get("/api/v1/limits", headers=world.headers(D)).json()
    assert {x["agent_id"] for x in listed} <= {None, own}
    assert ids["own_limit"] in {x["id"] for x in listed}
    everything = {x["id"] for x in api.client.get("/api/v1/limits", headers=world.headers(V)).json()}
    assert {ids["own_limit"], ids["other_limit"]} <= everything


def test_developers_only_reach_their_own_agents(api: Api) -> None:
    mine = api.agent(owner="developer")
    api.client.post(
        "/api/v1/users",
        json={
            "email": "other@example.com",
            "name": "O",
            "role": "developer",
            "password": "developer-password-1",
        },
        headers=api.as_("admin"),
    )
    other = api.login("other@example.com", "developer-password-1")["access_token"]
    for method, path in [
        ("GET", "/api/v1/agents/{id}"),
        ("POST", "/api/v1/agents/{id}/stop"),
        ("GET", "/api/v1/agents/{id}/tokens"),
        ("POST", "/api/v1/agents/{id}/tokens"),
    ]:
        r = api.client.request(method, path.format(id=mine["id"]), headers=api.auth(other), json={})
        assert r.status_code == 403, (method, path, r.text)
    assert api.client.get("/api/v1/agents", headers=api.auth(other)).json() == []
    assert [a["id"] for a in api.client.get("/api/v1/agents", headers=api.as_("developer")).json()] == [
        mine["id"]
    ]
