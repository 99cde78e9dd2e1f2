"""Budget pools of developers and teams: agents' allocations are drawn from them and never add
up to more than the pool, under concurrency too, on SQLite and on two PostgreSQL replicas."""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, Api
from .servers import ServerProcess

_n = itertools.count()


def test_a_developer_allocates_within_their_pool_and_never_past_it(api: Api) -> None:
    admin, dev = api.as_("admin"), api.as_("developer")
    me = api.user_id("developer")
    mine = api.agent(budget_usd=0)  # an agent of the developer, allocated directly (nothing)
    # Outside a pool only admins allocate.
    r = api.client.put(f"/api/v1/agents/{mine['id']}/budget", json={"limit_usd": 1}, headers=dev)
    assert r.status_code == 403 and "pool" in r.json()["error"]["message"]
    pool = api.client.put(f"/api/v1/users/{me}/budget", json={"limit_usd": 10}, headers=admin).json()
    assert (pool["limit_usd"], pool["allocated_usd"], pool["unallocated_usd"]) == (10, 0, 10)
    a = api.client.post(
        "/api/v1/agents", json={"name": "a", "pool_id": pool["id"], "budget_usd": 6}, headers=dev
    ).json()
    assert a["budget"] == {
        "agent_id": a["id"],
        "limit_usd": 6,
        "spent_usd": 0,
        "leased_usd": 0,
        "available_usd": 6,
        "pool_id": pool["id"],
    }
    moved = api.client.put(
        f"/api/v1/agents/{mine['id']}/budget", json={"limit_usd": 4, "pool_id": pool["id"]}, headers=dev
    )
    assert moved.status_code == 200 and moved.json()["pool_id"] == pool["id"]
    over = api.client.put(f"/api/v1/agents/{mine['id']}/budget", json={"limit_usd": "4.01"}, headers=dev)
    assert over.status_code == 409 and over.json()["error"]["code"] == "pool_exceeded"
    assert "$0.000000 of its $10.000000 unallocated" in over.json()["error"]["message"]
    listed = api.client.get(f"/api/v1/budgets/pools/{pool['id']}", headers=dev).json()
    assert (listed["allocated_usd"], listed["agent_ids"]) == (10, sorted([a["id"], mine["id"]]))
    # Leases stay within each agent's allocation, so within the pool.
    token = api.ic_token(a["id"])
    lease = api.client.post("/api/v1/budget/handshake", json={"ic_token": token, "requested_usd": 100})
    assert lease.json()["granted_usd"] == 6
    # An allocation never drops below spent + leased; the pool's limit never below what is allocated.
    low = api.client.put(f"/api/v1/agents/{a['id']}/budget", json={"limit_usd": 5}, headers=dev)
    assert low.status_code == 409 and "below spent + leased" in low.json()["error"]["message"]
    shrink = api.client.put(f"/api/v1/users/{me}/budget", json={"limit_usd": 9}, headers=admin)
    assert shrink.status_code == 409 and "lower their allocations first" in shrink.json()["error"]["message"]
    # A request approved by an admin draws from the pool too.
    req = api.client.post(
        "/api/v1/budget/requests", json={"agent_id": a["id"], "amount_usd": 1}, headers=dev
    ).json()
    refused = api.client.post(f"/api/v1/budget/requests/{req['id']}/approve", headers=admin)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "pool_exceeded"
    api.client.put(f"/api/v1/users/{me}/budget", json={"limit_usd": 11}, headers=admin)
    assert api.client.post(f"/api/v1/budget/requests/{req['id']}/approve", headers=admin).status_code == 200
    final = api.client.get(f"/api/v1/budgets/pools/{pool['id']}", headers=admin).json()
    assert (final["allocated_usd"], final["leased_usd"], final["unallocated_usd"]) == (11, 6, 0)


def test_team_pools_serve_their_members_only(api: Api) -> None:
    admin = api.as_("admin")
    api.as_("developer")
    team = api.client.post("/api/v1/teams", json={"name": "growth"}, headers=admin).json()
    pool = api.client.put(f"/api/v1/teams/{team['id']}/budget", json={"limit_usd": 5}, headers=admin).json()
    outsider = api.client.post(
        "/api/v1/users",
        json={"email": "out@example.com", "name": "O", "role": "developer", "password": PASSWORD},
        headers=admin,
    )
    assert outsider.status_code == 201
    out = api.auth(api.login("out@example.com", PASSWORD)["access_token"])
    body = {"name": "t", "pool_id": pool["id"], "budget_usd": 1}
    assert api.client.post("/api/v1/agents", json=body, headers=out).status_code == 403
    assert api.client.get(f"/api/v1/budgets/pools/{pool['id']}", headers=out).status_code == 403
    member = api.user_id("developer")
    joined = api.client.put(f"/api/v1/teams/{team['id']}/members/{member}", headers=admin).json()
    assert joined["member_ids"] == [member]
    created = api.client.post("/api/v1/agents", json=body, headers=api.as_("developer"))
    assert created.status_code == 201 and created.json()["budget"]["pool_id"] == pool["id"]
    mine = api.client.get("/api/v1/budgets/mine", headers=api.as_("developer")).json()
    assert [p["team_id"] for p in mine["pools"]] == [team["id"]]
    assert [b["agent_id"] for b in mine["agents"]] == [created.json()["id"]]
    assert api.client.get("/api/v1/teams", headers=out).json() == []


def _replicas(database_url: str, tmp_path: Path) -> list[ServerProcess]:
    if database_url.startswith("sqlite"):
        return [ServerProcess(database_url, tmp_path, "cp-1", "--sweep-interval", "0")]
    return [ServerProcess(database_url, tmp_path, f"cp-{i}", "--sweep-interval", "0") for i in (1, 2)]


def test_concurrent_allocations_and_leases_never_pass_the_pool(database_url: str, tmp_path: Path) -> None:
    """20 agents in a $10 pool; 16 threads across the replicas set random allocations
    ($0-$2) and lease from the agents at once. The pool's allocated amount is always exactly
    its agents' allocations, never past $10, and their leases stay inside."""
    servers = _replicas(database_url, tmp_path)
    for s in servers:
        s.start()
    try:
        admin = servers[0].admin_headers()
        url = servers[0].url
        me = httpx.get(f"{url}/api/v1/users/me", headers=admin).json()["id"]
        pool = httpx.put(f"{url}/api/v1/users/{me}/budget", json={"limit_usd": 10}, headers=admin).json()
        agents: list[dict[str, Any]] = []
        for i in range(20):
            a = httpx.post(
                f"{url}/api/v1/agents", json={"name": f"p{i}", "pool_id": pool["id"]}, headers=admin
            ).json()
            minted = httpx.post(f"{url}/api/v1/agents/{a['id']}/tokens", json={}, headers=admin)
            agents.append({"id": a["id"], "token": minted.json()["token"]})
        rng = random.Random(7)
        kinds = ["alloc", "alloc", "lease"]
        jobs = [(rng.randrange(20), rng.choice(kinds), rng.randrange(201)) for _ in range(300)]

        def run(job: tuple[int, str, int]) -> int:
            i, kind, cents = job
            base = servers[next(_n) % len(servers)].url
            if kind == "alloc":
                r = httpx.put(
                    f"{base}/api/v1/agents/{agents[i]['id']}/budget",
                    json={"limit_usd": f"{cents / 100:.2f}"},
                    headers=admin,
                    timeout=60,
                )
                assert r.status_code in (200, 409), r.text
            else:
                r = httpx.post(
                    f"{base}/api/v1/budget/handshake",
                    json={"ic_token": agents[i]["token"], "requested_usd": "0.25"},
                    timeout=60,
                )
                assert r.status_code in (201, 402), r.text
            return r.status_code

        with ThreadPoolExecutor(16) as ex:
            statuses = list(ex.map(run, jobs))
        assert statuses.count(409) > 0 and statuses.count(200) > 0  # the pool did bind
        listed = httpx.get(f"{servers[-1].url}/api/v1/agents", headers=admin).json()
        budgets = [a["budget"] for a in listed if a["budget"]["pool_id"] == pool["id"]]
        assert len(budgets) == 20
        final = httpx.get(f"{servers[-1].url}/api/v1/budgets/pools/{pool['id']}", headers=admin).json()
        allocated = sum(b["limit_usd"] for b in budgets)
        assert final["allocated_usd"] == pytest.approx(allocated, abs=1e-9)
        assert allocated <= 10 + 1e-9
        assert all(b["spent_usd"] + b["leased_usd"] <= b["limit_usd"] + 1e-9 for b in budgets)
        assert final["leased_usd"] <= final["allocated_usd"] + 1e-9
        for s in servers:
            log = s.log_path.read_text()
            assert "Traceback" not in log, log[-3000:]
    finally:
        for s in servers:
            s.stop()
