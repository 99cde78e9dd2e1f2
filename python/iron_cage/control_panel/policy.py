"""Allowed models and providers: per developer and per agent, sent to the runtime with every
lease answer (``limits.allowed_models``/``allowed_providers``), and checked again on every
usage report.

**Matching rule** (the same as the runtime's, ``crates/iron_runtime/src/limits.rs``): names are
compared in lower case after trimming; a model is allowed when its name is on the list, or when
the price table resolves it to a name on the list, which is how a dated snapshot
(``gpt-4o-mini-2024-07-18``, ``claude-haiku-4-5-20251001``) passes for its model
(``gpt-4o-mini``, ``claude-haiku-4-5``). A snapshot on the list does not admit the undated name.
A provider is allowed when it is on ``allowed_providers``; a report without one is placed by the
price table. ``None`` means no restriction.

**Both apply**: an agent may call what its own lists and its developer's lists both allow; the
lists the runtime receives are that intersection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from iron_cage import _core
from iron_cage.control_panel.db import tx_memo
from iron_cage.control_panel.events import emit, run_after_commit
from iron_cage.control_panel.models import Agent, UnauthorizedAction, User
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.state import ControlPanel
from iron_cage.control_panel.wire import ModelPolicy, PiiPolicy, UsageIn

log = logging.getLogger("iron_cage.control_panel")


@lru_cache(maxsize=4096)
def _priced_as(model: str) -> tuple[str, str] | None:
    """(the model the price table bills ``model`` as, its provider), or None when it is unknown."""
    try:
        price = _core.active_price_table().price(model)
    except Exception:  # an unknown model: only its own name can match
        return None
    return str(price["model"]).lower(), str(price["provider"]).lower()


def admits(allowed: Sequence[str] | None, model: str) -> bool:
    """Whether ``model`` passes the list ``allowed`` (None: every model)."""
    if allowed is None:
        return True
    name = model.strip().lower()
    priced = _priced_as(name)
    return name in allowed or (priced is not None and priced[0] in allowed)


def provider_of(model: str, provider: str) -> str:
    if provider.strip():
        return provider.strip().lower()
    priced = _priced_as(model.strip().lower())
    return priced[1] if priced is not None else ""


def _load(text: str | None) -> list[str] | None:
    return None if text is None else [str(x) for x in json.loads(text)]


def dump(names: Sequence[str] | None) -> str | None:
    return None if names is None else json.dumps(sorted(set(names)))


def own(row: User | Agent) -> ModelPolicy:
    return ModelPolicy(
        allowed_models=_load(row.allowed_models), allowed_providers=_load(row.allowed_providers)
    )


def _both(a: list[str] | None, b: list[str] | None, *, models: bool) -> list[str] | None:
    if a is None or b is None:
        return b if a is None else a
    if not models:
        return sorted(set(a) & set(b))
    # A name of one list that the other admits (a snapshot of a listed model, say) stays.
    return sorted({m for m in a if admits(b, m)} | {m for m in b if admits(a, m)})


def _owner(s: Session, agent: Agent) -> User | None:
    """The agent's developer, read once per transaction (the identity map holds rows weakly, so
    each ``s.get`` after the last reference went away would read it again)."""
    owners: dict[int, User | None] = tx_memo(s, "owners")
    if agent.owner_id not in owners:
        owners[agent.owner_id] = s.get(User, agent.owner_id)
    return owners[agent.owner_id]


def agent_with_owner(s: Session, agent_id: int) -> Agent | None:
    """The agent, read with its developer in one statement (kept for :func:`_owner`)."""
    row = s.execute(
        select(Agent, User).outerjoin(User, User.id == Agent.owner_id).where(Agent.id == agent_id)
    ).first()
    if row is None:
        return None
    agent, owner = row
    tx_memo(s, "owners")[agent.owner_id] = owner
    return agent


def effective(s: Session, agent: Agent) -> ModelPolicy:
    """What ``agent`` may call: its own lists and its developer's, both applied."""
    owner = _owner(s, agent)
    mine, theirs = own(agent), own(owner) if owner is not None else ModelPolicy()
    return ModelPolicy(
        allowed_models=_both(mine.allowed_models, theirs.allowed_models, models=True),
        allowed_providers=_both(mine.allowed_providers, theirs.allowed_providers, models=False),
    )


# How much of a value each action keeps from the provider (the runtime's order,
# crates/iron_runtime/src/egress.rs): a policy is a floor, the stricter action wins.
PII_STRICTNESS = {"allow": 0, "warn": 1, "pseudonymize": 2, "redact": 3, "block": 4}


def own_pii(row: User | Agent) -> PiiPolicy:
    return PiiPolicy(
        egress=None if row.pii_egress is None else json.loads(row.pii_egress),
        ingress=None if row.pii_ingress is None else json.loads(row.pii_ingress),
    )


def store_pii(row: User | Agent, body: PiiPolicy) -> None:
    row.pii_egress = json.dumps(dict(sorted(body.egress.items()))) if body.egress else None
    row.pii_ingress = json.dumps(dict(sorted(body.ingress.items()))) if body.ingress else None


A = TypeVar("A", bound=str)


def _stricter(a: dict[str, A] | None, b: dict[str, A] | None) -> dict[str, A] | None:
    """Per entity the stricter of two floors; an entity one does not name falls to its
    ``default`` (allow when it has none)."""
    if not a or not b:
        return a or b or None

    def action(p: dict[str, A], entity: str) -> A:
        return p.get(entity, p.get("default", cast("A", "allow")))

    out = {
        e: max(action(a, e), action(b, e), key=PII_STRICTNESS.__getitem__) for e in sorted(set(a) | set(b))
    }
    return {e: x for e, x in out.items() if e == "default" or x != action(out, "default")} or None


def effective_pii(s: Session, agent: Agent) -> PiiPolicy:
    """The PII floor ``agent``'s runtime receives: its own and its developer's, the stricter."""
    owner = _owner(s, agent)
    mine, theirs = own_pii(agent), own_pii(owner) if owner is not None else PiiPolicy()
    return PiiPolicy(
        egress=_stricter(mine.egress, theirs.egress),
        ingress=_stricter(mine.ingress, theirs.ingress),
    )


def refusal(policy: ModelPolicy, report: UsageIn) -> str | None:
    """Why ``report`` names a call its agent may not make, or None."""
    if not admits(policy.allowed_models, report.model):
        allowed = ", ".join(policy.allowed_models or []) or "none"
        return f"model {report.model!r} is not allowed for this agent (allowed: {allowed})"
    if policy.allowed_providers is not None:
        provider = provider_of(report.model, report.provider)
        if provider not in policy.allowed_providers:
            allowed = ", ".join(policy.allowed_providers) or "none"
            name = provider or "unknown"
            return f"provider {name!r} (model {report.model!r}) is not allowed (allowed: {allowed})"
    return None


def record_unauthorized(
    cp: ControlPanel, who: Principal, agent_id: int, owner_id: int, kind: str, detail: str
) -> None:
    """Writes an ``unauthorized_actions`` row and an ``AGENT_EVENT``, in a transaction of its own
    (the request that tried it is refused and rolled back)."""
    with cp.db.sessions() as s:
        cp.events.bind(s)
        with s.begin():
            s.add(
                UnauthorizedAction(
                    kind=kind, agent_id=agent_id, user_id=who.user_id, role=who.role, detail=detail
                )
            )
            emit(
                s,
                "AGENT_EVENT",
                agent_id,
                owner_id,
                event="unauthorized_action",
                action=kind,
                detail=detail,
            )
        run_after_commit(s)
    log.warning("unauthorized action by agent %d: %s: %s", agent_id, kind, detail)
