"""The access-control suite's world: two developers with agents in two projects, a provider key
(the canary: it must never come back in the clear), secrets bound to agents, projects and
environments, a live lease; on a SQLite file and on PostgreSQL (``database_url``)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from control_panel.conftest import PASSWORD, Api, RuntimeKeys, api, cp  # noqa: F401 (fixtures)

CANARY = "sk-proj-CANARY-" + "5e1f0a7b" * 4
_n = itertools.count()


@dataclass
class World:
    api: Api
    dev: dict[str, str]
    other: dict[str, str]
    dev_id: int
    other_id: int
    mine: dict[str, Any]  # the developer's agent, project "leads", with the canary key
    mine_token: str
    mine_staging_token: str
    peer: dict[str, Any]  # the developer's second agent, project "leads"
    theirs: dict[str, Any]  # the other developer's agent, project "billing"
    theirs_token: str
    lease: dict[str, Any]
    keys: RuntimeKeys
    secrets: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def admin(self) -> dict[str, str]:
        return self.api.as_("admin")

    def agent(self, token: str) -> dict[str, str]:
        return self.api.auth(token)


def _post(on: Api, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    r = on.client.post(path, json=body, headers=headers or on.as_("admin"))
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.fixture
def world(api: Api, caplog: pytest.LogCaptureFixture) -> Iterator[World]:  # noqa: F811 (the api fixture)
    caplog.set_level(logging.DEBUG)  # every log line of the run, searched for the canary
    admin = api.as_("admin")
    dev = api.as_("developer")
    _post(
        api,
        "/api/v1/users",
        {"email": "other@example.com", "name": "O", "role": "developer", "password": PASSWORD},
    )
    other = api.auth(api.login("other@example.com", PASSWORD)["access_token"])
    dev_id = api.user_id("developer")
    other_id = int(api.client.get("/api/v1/users/me", headers=other).json()["id"])
    _post(api, "/api/v1/providers/keys", {"provider": "openai", "key": CANARY, "label": "canary"})
    mine = _post(
        api, "/api/v1/agents", {"name": "mine", "owner_id": dev_id, "project": "leads", "budget_usd": 100}
    )
    peer = _post(
        api, "/api/v1/agents", {"name": "peer", "owner_id": dev_id, "project": "leads", "budget_usd": 10}
    )
    theirs = _post(
        api,
        "/api/v1/agents",
        {"name": "theirs", "owner_id": other_id, "project": "billing", "budget_usd": 10},
    )
    mine_token = _post(api, f"/api/v1/agents/{mine['id']}/tokens", {"name": "prod"})["token"]
    staging = _post(api, f"/api/v1/agents/{mine['id']}/tokens", {"name": "stage", "environment": "staging"})
    theirs_token = _post(api, f"/api/v1/agents/{theirs['id']}/tokens", {"name": "prod"})["token"]
    keys = RuntimeKeys()
    lease = _post(
        api,
        "/api/v1/budget/handshake",
        {"requested_usd": 50, "key_exchange": keys.request()},
        api.auth(mine_token),
    )
    assert keys.open(lease["provider_key_sealed"], lease["lease_id"]) == CANARY
    w = World(
        api=api,
        dev=dev,
        other=other,
        dev_id=dev_id,
        other_id=other_id,
        mine=mine,
        mine_token=mine_token,
        mine_staging_token=staging["token"],
        peer=peer,
        theirs=theirs,
        theirs_token=theirs_token,
        lease=lease,
        keys=keys,
    )
    for name, env, bind in [
        ("MINE", "production", {"agent_ids": [mine["id"]]}),
        ("MINE_STAGING", "staging", {"agent_ids": [mine["id"]]}),
        ("LEADS", "production", {"projects": ["leads"]}),
        ("THEIRS", "production", {"agent_ids": [theirs["id"]]}),
        ("NOBODY", "production", {}),
    ]:
        body = {"name": name, "value": f"value-of-{name}-{next(_n)}", "environment": env, **bind}
        w.secrets[name] = int(_post(api, "/api/v1/secrets", body, admin)["id"])
    deliver = api.cp.events.deliver

    def record(event: dict[str, Any]) -> None:  # every live event, on either backend
        w.events.append(event)
        deliver(event)

    api.cp.events.deliver = record  # type: ignore[method-assign]
    yield w
    api.cp.events.deliver = deliver  # type: ignore[method-assign]
