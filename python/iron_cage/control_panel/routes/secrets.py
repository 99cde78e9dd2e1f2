"""Provider keys and the secrets API, both encrypted with the Rust cipher (AES-256-GCM).

Values are masked everywhere except: a provider key released at handshake, and
``GET /secrets/{id}`` for admins and agents. Every secret action lands in the
append-only ``secret_audit`` table (never the value).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from iron_cage import _core
from iron_cage.control_panel.deps import CP, Admin, Auditor, Db, Id, Reader, SecretReader, TxRouter
from iron_cage.control_panel.errors import conflict, not_found
from iron_cage.control_panel.models import ProviderKey, Secret, SecretAudit
from iron_cage.control_panel.principal import Principal
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


@router.get("/providers/keys")
def list_provider_keys(_: Reader, s: Db) -> list[ProviderKeyOut]:
    q = select(ProviderKey).where(ProviderKey.deleted_at.is_(None)).order_by(ProviderKey.id)
    return [provider_key_out(k) for k in s.scalars(q)]


@router.post("/providers/keys", status_code=201)
def add_provider_key(body: ProviderKeyIn, _: Admin, cp: CP, s: Db) -> ProviderKeyOut:
    """Stores a provider API key encrypted; the newest key of a provider is the one runtimes get."""
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
    return provider_key_out(k)


@router.delete("/providers/keys/{key_id}", status_code=204, responses={404: {}})
def delete_provider_key(key_id: Id, _: Admin, s: Db) -> Response:
    k = s.get(ProviderKey, key_id)
    if k is None or k.deleted_at is not None:
        raise not_found(f"provider key {key_id}")
    k.deleted_at = datetime.now(UTC)
    return Response(status_code=204)


# --- secrets --------------------------------------------------------------------------------------
def _audit(
    s: Session, who: Principal, secret: Secret | None, action: str, name: str, env: str, detail: str = ""
) -> None:
    s.add(
        SecretAudit(
            secret_id=secret.id if secret else None,
            secret_name=name,
            environment=env,
            action=action,
            actor=who.name,
            detail=detail,
        )
    )


def secret_out(x: Secret, value: str | None = None) -> SecretOut:
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
        value=value,
    )


def _encrypt(cp: CP, x: Secret, value: str) -> None:
    x.ciphertext = cp.cipher.encrypt(
        x.name, value, environment=x.environment, version=x.version, secret_id=str(x.id)
    )
    x.masked = _core.mask_secret(value)


@router.post("/secrets", status_code=201, responses={409: {}})
def create_secret(body: SecretIn, who: Admin, cp: CP, s: Db) -> SecretOut:
    existing = s.scalar(
        select(Secret).where(Secret.name == body.name, Secret.environment == body.environment)
    )
    if existing is not None and existing.deleted_at is None:
        raise conflict(
            f"secret {body.name} ({body.environment}) exists: PUT /api/v1/secrets/{existing.id} to change it"
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
    _encrypt(cp, x, body.value)
    _audit(s, who, x, "create", x.name, x.environment, f"version {x.version}")
    return secret_out(x)


@router.get("/secrets")
def list_secrets(
    _: SecretReader,
    s: Db,
    name: Annotated[SecretName | None, Query()] = None,
    environment: Annotated[Environment | None, Query()] = None,
    include_deleted: bool = False,
) -> list[SecretOut]:
    """Every secret, values masked (``sk-proj-abc...xyz``)."""
    q = select(Secret).order_by(Secret.name, Secret.environment)
    if name is not None:
        q = q.where(Secret.name == name)
    if environment is not None:
        q = q.where(Secret.environment == environment)
    if not include_deleted:
        q = q.where(Secret.deleted_at.is_(None))
    return [secret_out(x) for x in s.scalars(q)]


@router.get("/secrets/audit")
def secret_audit(
    _: Auditor,
    s: Db,
    secret_name: Annotated[SecretName | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[SecretAuditOut]:
    """Who did what to which secret, oldest first. The table is append-only in the database."""
    q = select(SecretAudit).order_by(SecretAudit.id).limit(limit)
    if secret_name is not None:
        q = q.where(SecretAudit.secret_name == secret_name)
    return [SecretAuditOut.model_validate(a, from_attributes=True) for a in s.scalars(q)]


def _live(s: Session, secret_id: int) -> Secret:
    x = s.get(Secret, secret_id)
    if x is None or x.deleted_at is not None:
        raise not_found(f"secret {secret_id}")
    return x


@router.get("/secrets/{secret_id}", responses={404: {}})
def read_secret(secret_id: Id, who: SecretReader, cp: CP, s: Db) -> SecretOut:
    """Admins and agents get the value (audited as a read); developers and viewers see it masked."""
    x = _live(s, secret_id)
    if who.role not in ("admin", "agent"):
        return secret_out(x)
    value = cp.cipher.decrypt(
        x.name, x.ciphertext, environment=x.environment, version=x.version, secret_id=str(x.id)
    )
    _audit(s, who, x, "read", x.name, x.environment, f"version {x.version}")
    return secret_out(x, value)


@router.put("/secrets/{secret_id}", responses={404: {}})
def update_secret(secret_id: Id, body: SecretUpdate, who: Admin, cp: CP, s: Db) -> SecretOut:
    """A new value makes a new version (re-encrypted, bound to the new version number)."""
    x = _live(s, secret_id)
    if body.description is not None:
        x.description = body.description
    if body.value is not None:
        x.version += 1
        _encrypt(cp, x, body.value)
    x.updated_at = datetime.now(UTC)
    _audit(s, who, x, "update", x.name, x.environment, f"version {x.version}")
    return secret_out(x)


@router.delete("/secrets/{secret_id}", status_code=204, responses={404: {}})
def delete_secret(secret_id: Id, who: Admin, s: Db) -> Response:
    """Soft delete: hidden from reads and lists; re-creating the name starts a new version."""
    x = _live(s, secret_id)
    x.deleted_at = datetime.now(UTC)
    _audit(s, who, x, "delete", x.name, x.environment, f"version {x.version}")
    return Response(status_code=204)
