"""Provider keys and the secrets API, both encrypted with the Rust cipher (AES-256-GCM).

Values are masked everywhere except: ``GET /secrets/{id}`` by the IC token of an agent the
secret is bound to (in the token's environment), and ``POST /secrets/{id}/reveal`` by an
admin. Provider keys leave the server only sealed to a runtime (``provider_keys.py``).
Every operation, refused and failed ones included, lands in the append-only
``secret_audit_log`` (``secret_audit.py``; never a value). Role checks happen inside the
endpoints, so that a refusal is audited too; a secret the caller may not know of is a 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Query, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from iron_cage import _core
from iron_cage.control_panel.access import may_see_secret, secret_scope
from iron_cage.control_panel.deps import CP, Caller, Db, Id, TxRouter
from iron_cage.control_panel.errors import bad_request, conflict, forbidden, not_found
from iron_cage.control_panel.models import Agent, ProviderKey, Secret, SecretAuditLog, SecretBinding
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.secret_audit import Audited
from iron_cage.control_panel.wire import (
    Environment,
    ProviderKeyIn,
    ProviderKeyOut,
    SecretAuditOut,
    SecretIn,
    SecretName,
    SecretOut,
    SecretUpdate,
)

router = TxRouter(tags=["secrets"])

UTC = timezone.utc
PEOPLE = ("admin", "developer", "viewer")


def _allow(who: Principal, roles: Sequence[str], what: str) -> None:
    if who.role not in roles:
        raise forbidden(f"role {who.role!r} may not {what} (allowed: {', '.join(roles)})")


# --- provider keys --------------------------------------------------------------------------------
def provider_key_out(k: ProviderKey) -> ProviderKeyOut:
    return ProviderKeyOut(
        id=k.id,
        provider=k.provider,
        label=k.label,
        base_url=k.base_url,
        masked=k.masked,
        created_at=k.created_at,
    )


@router.get("/providers/keys", responses={403: {}})
def list_provider_keys(who: Caller, cp: CP, s: Db) -> list[ProviderKeyOut]:
    """Every provider key, masked (``sk-proj-abc...xyz``)."""
    with Audited(cp, s, who, "list", name="provider:*", environment="*"):
        _allow(who, PEOPLE, "list provider keys")
        q = select(ProviderKey).where(ProviderKey.deleted_at.is_(None)).order_by(ProviderKey.id)
        return [provider_key_out(k) for k in s.scalars(q)]


@router.post("/providers/keys", status_code=201, responses={403: {}})
def add_provider_key(body: ProviderKeyIn, who: Caller, cp: CP, s: Db) -> ProviderKeyOut:
    """Stores a provider API key encrypted; the newest key of a provider is the one runtimes get
    (sealed to them at their next handshake or refresh)."""
    with Audited(cp, s, who, "create", name=f"provider:{body.provider}", environment="*") as audit:
        _allow(who, ("admin",), "add provider keys")
        k = ProviderKey(
            provider=body.provider,
            label=body.label,
            base_url=body.base_url,
            ciphertext="",
            masked=_core.mask_secret(body.key),
        )
        s.add(k)
        s.flush()
        k.ciphertext = cp.cipher.encrypt(f"provider:{k.provider}", body.key, secret_id=str(k.id))
        audit.secret_id = k.id
        return provider_key_out(k)


@router.delete("/providers/keys/{key_id}", status_code=204, responses={403: {}, 404: {}})
def delete_provider_key(key_id: Id, who: Caller, cp: CP, s: Db) -> Response:
    with Audited(cp, s, who, "delete", secret_id=key_id, name="provider:?", environment="*") as audit:
        _allow(who, ("admin",), "delete provider keys")
        k = s.get(ProviderKey, key_id)
        if k is None or k.deleted_at is not None:
            raise not_found(f"provider key {key_id}")
        audit.name = f"provider:{k.provider}"
        k.deleted_at = datetime.now(UTC)
        return Response(status_code=204)


# --- secrets --------------------------------------------------------------------------------------
def _bindings(s: Session, secret_id: int) -> tuple[list[int], list[str]]:
    rows = s.execute(
        select(SecretBinding.agent_id, SecretBinding.project)
        .where(SecretBinding.secret_id == secret_id)
        .order_by(SecretBinding.id)
    ).all()
    return [int(a) for a, _ in rows if a is not None], [str(p) for _, p in rows if p is not None]


def secret_out(s: Session, who: Principal, x: Secret, value: str | None = None) -> SecretOut:
    agents, projects = _bindings(s, x.id)
    if who.role != "admin" and agents:  # others see only the bound agents they can see themselves
        visible = select(Agent.id).where(Agent.id.in_(agents))
        if who.role == "developer":
            visible = visible.where(Agent.owner_id == who.user_id)
        elif who.role == "agent":
            visible = visible.where(Agent.id == who.agent_id)
        agents = sorted(int(a) for a in s.scalars(visible))
    return SecretOut(
        id=x.id,
        name=x.name,
        environment=x.environment,
        version=x.version,
        masked=x.masked,
        description=x.description,
        created_at=x.created_at,
        updated_at=x.updated_at,
        deleted=x.deleted_at is not None,
        agent_ids=agents,
        projects=projects,
        value=value,
    )


def _bind(s: Session, x: Secret, agent_ids: Sequence[int], projects: Sequence[str]) -> str:
    """Replaces the secret's bindings; returns them for the audit row."""
    agents = sorted(set(agent_ids))
    known = set(s.scalars(select(Agent.id).where(Agent.id.in_(agents)))) if agents else set()
    if missing := [a for a in agents if a not in known]:
        raise bad_request(
            f"no agent {', '.join(map(str, missing))}: bind the secret to existing agents",
            missing_agent_ids=missing,
        )
    s.execute(delete(SecretBinding).where(SecretBinding.secret_id == x.id))
    for a in agents:
        s.add(SecretBinding(secret_id=x.id, agent_id=a))
    for p in sorted(set(projects)):
        s.add(SecretBinding(secret_id=x.id, project=p))
    return f"bound to agents {agents} and projects {sorted(set(projects))}"


def _encrypt(cp: CP, x: Secret, value: str) -> None:
    x.ciphertext = cp.cipher.encrypt(
        x.name, value, environment=x.environment, version=x.version, secret_id=str(x.id)
    )
    x.masked = _core.mask_secret(value)


@router.post("/secrets", status_code=201, responses={400: {}, 403: {}, 409: {}})
def create_secret(body: SecretIn, who: Caller, cp: CP, s: Db) -> SecretOut:
    """Stores a value encrypted, bound to the agents and projects whose IC tokens (of its
    environment) may read it."""
    with Audited(cp, s, who, "create", name=body.name, environment=body.environment) as audit:
        _allow(who, ("admin",), "create secrets")
        existing = s.scalar(
            select(Secret).where(Secret.name == body.name, Secret.environment == body.environment)
        )
        if existing is not None and existing.deleted_at is None:
            raise conflict(
                f"secret {body.name} ({body.environment}) exists: PUT /api/v1/secrets/{existing.id} "
                "to change it"
            )
        if existing is not None:  # re-creating a soft-deleted name: a new version of the same row
            x = existing
            x.deleted_at = None
            x.version += 1
            x.description = body.description
            x.updated_at = datetime.now(UTC)
        else:
            x = Secret(
                name=body.name,
                environment=body.environment,
                description=body.description,
                ciphertext="",
                masked="",
                created_by=who.user_id,
            )
            s.add(x)
            s.flush()
        audit.target(x)
        _encrypt(cp, x, body.value)
        audit.detail = f"version {x.version}; {_bind(s, x, body.agent_ids, body.projects)}"
        s.flush()
        return secret_out(s, who, x)


@router.get("/secrets", responses={403: {}})
def list_secrets(
    who: Caller,
    cp: CP,
    s: Db,
    name: Annotated[SecretName | None, Query()] = None,
    environment: Annotated[Environment | None, Query()] = None,
    include_deleted: bool = False,
) -> list[SecretOut]:
    """The secrets the caller may know of, values masked: all of them for admins and viewers,
    those bound to their agents for developers, those bound to its agent in its token's
    environment for an agent."""
    with Audited(cp, s, who, "list", name=name or "*", environment=environment or "*"):
        _allow(who, (*PEOPLE, "agent"), "list secrets")
        q = select(Secret).where(secret_scope(s, who)).order_by(Secret.name, Secret.environment)
        if name is not None:
            q = q.where(Secret.name == name)
        if environment is not None:
            q = q.where(Secret.environment == environment)
        if not include_deleted or who.role == "agent":
            q = q.where(Secret.deleted_at.is_(None))
        return [secret_out(s, who, x) for x in s.scalars(q)]


@router.get("/secrets/audit", responses={403: {}})
def secret_audit(
    who: Caller,
    cp: CP,
    s: Db,
    secret_name: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[SecretAuditOut]:
    """Every operation on secrets and provider keys (``provider:<name>``), refused and failed
    ones included, oldest first. The table is append-only in the database."""
    with Audited(cp, s, who, "audit", name=secret_name or "*", environment="*"):
        _allow(who, ("admin",), "read the secrets audit log")
        q = select(SecretAuditLog).order_by(SecretAuditLog.id).limit(limit)
        if secret_name is not None:
            q = q.where(SecretAuditLog.secret_name == secret_name)
        return [SecretAuditOut.model_validate(a, from_attributes=True) for a in s.scalars(q)]


def _name(s: Session, audit: Audited, secret_id: int) -> None:
    """Names the secret in the audit row before anything is checked (a refusal names it too)."""
    x = s.get(Secret, secret_id)
    if x is not None:
        audit.target(x)


def _known(s: Session, who: Principal, audit: Audited, secret_id: int) -> Secret:
    """The live secret if ``who`` may know of it; otherwise 404, whether or not it exists."""
    x = s.get(Secret, secret_id)
    if x is None or x.deleted_at is not None:
        raise not_found(f"secret {secret_id}")
    audit.target(x)
    if not may_see_secret(s, who, x):
        scope = f"agent {who.agent_id} ({who.environment})" if who.role == "agent" else f"user {who.user_id}"
        raise audit.refuse(f"404 not_found: not bound to {scope}", not_found(f"secret {secret_id}"))
    return x


def _decrypt(cp: CP, x: Secret) -> str:
    return cp.cipher.decrypt(
        x.name, x.ciphertext, environment=x.environment, version=x.version, secret_id=str(x.id)
    )


@router.get("/secrets/{secret_id}", responses={403: {}, 404: {}})
def read_secret(secret_id: Id, who: Caller, cp: CP, s: Db) -> SecretOut:
    """An agent's IC token gets the value of a secret bound to it (audited as a read); people
    see it masked (admins reveal it with ``POST /secrets/{id}/reveal``)."""
    with Audited(cp, s, who, "read", secret_id=secret_id) as audit:
        _name(s, audit, secret_id)
        _allow(who, (*PEOPLE, "agent"), "read secrets")
        x = _known(s, who, audit, secret_id)
        audit.detail = f"version {x.version}" + ("; value" if who.role == "agent" else "; masked")
        return secret_out(s, who, x, _decrypt(cp, x) if who.role == "agent" else None)


@router.post("/secrets/{secret_id}/reveal", responses={403: {}, 404: {}})
def reveal_secret(secret_id: Id, who: Caller, cp: CP, s: Db) -> SecretOut:
    """The value, for an admin, with an audit row."""
    with Audited(cp, s, who, "reveal", secret_id=secret_id) as audit:
        _name(s, audit, secret_id)
        _allow(who, ("admin",), "reveal secret values")
        x = _known(s, who, audit, secret_id)
        audit.detail = f"version {x.version}"
        return secret_out(s, who, x, _decrypt(cp, x))


@router.put("/secrets/{secret_id}", responses={400: {}, 403: {}, 404: {}})
def update_secret(secret_id: Id, body: SecretUpdate, who: Caller, cp: CP, s: Db) -> SecretOut:
    """A new value makes a new version (re-encrypted, bound to the new version number);
    ``agent_ids``/``projects`` replace the bindings."""
    with Audited(cp, s, who, "update", secret_id=secret_id) as audit:
        _name(s, audit, secret_id)
        _allow(who, ("admin",), "change secrets")
        x = _known(s, who, audit, secret_id)
        done = []
        if body.description is not None:
            x.description = body.description
        if body.value is not None:
            x.version += 1
            _encrypt(cp, x, body.value)
        done.append(f"version {x.version}")
        if body.agent_ids is not None or body.projects is not None:
            agents, projects = _bindings(s, x.id)
            done.append(
                _bind(
                    s,
                    x,
                    agents if body.agent_ids is None else body.agent_ids,
                    projects if body.projects is None else body.projects,
                )
            )
        x.updated_at = datetime.now(UTC)
        audit.detail = "; ".join(done)
        s.flush()
        return secret_out(s, who, x)


@router.delete("/secrets/{secret_id}", status_code=204, responses={403: {}, 404: {}})
def delete_secret(secret_id: Id, who: Caller, cp: CP, s: Db) -> Response:
    """Soft delete: hidden from reads and lists; re-creating the name starts a new version."""
    with Audited(cp, s, who, "delete", secret_id=secret_id) as audit:
        _name(s, audit, secret_id)
        _allow(who, ("admin",), "delete secrets")
        x = _known(s, who, audit, secret_id)
        x.deleted_at = datetime.now(UTC)
        audit.detail = f"version {x.version}"
        return Response(status_code=204)
