"""Provider keys on their way to a runtime: the agent's current key, sealed to the runtime's
key exchange for one lease (``sealing.py``), never released in the clear."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from iron_cage.control_panel.errors import ApiError
from iron_cage.control_panel.models import Agent, ProviderKey
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.sealing import KeyExchangeError, client_public_key, seal
from iron_cage.control_panel.secret_audit import Audited
from iron_cage.control_panel.state import ControlPanel
from iron_cage.control_panel.wire import SCHEME, KeyExchange, SealedKey


def current_key(s: Session, provider: str) -> ProviderKey | None:
    """The newest live key of ``provider``: the one runtimes receive."""
    return s.scalar(
        select(ProviderKey)
        .where(ProviderKey.provider == provider, ProviderKey.deleted_at.is_(None))
        .order_by(ProviderKey.id.desc())
    )


def require_exchange(agent: Agent, key: ProviderKey | None, exchange: KeyExchange | None) -> None:
    """400 ``key_exchange_required`` when the agent has a provider key and the runtime sent no
    public key to seal it to (a runtime from before sealed keys)."""
    if key is not None and exchange is None:
        raise ApiError(
            400,
            "key_exchange_required",
            f"agent {agent.id} has a {agent.provider} provider key, which the Control Panel only "
            f"releases sealed to the runtime: send key_exchange {{scheme: {SCHEME!r}, public_key}} "
            "with the handshake and each refresh. This runtime predates sealed provider keys: "
            "upgrade iron-cage (pip install -U iron-cage) and start it again",
            scheme=SCHEME,
        )


def sealed_for(
    cp: ControlPanel, key: ProviderKey | None, exchange: KeyExchange | None, lease_id: str
) -> SealedKey | None:
    """``key`` decrypted from the vault and sealed to ``exchange`` for ``lease_id`` (None: no key)."""
    if key is None or exchange is None:
        return None
    try:
        public = client_public_key(exchange.public_key)
        plain = cp.cipher.decrypt(f"provider:{key.provider}", key.ciphertext, secret_id=str(key.id))
        return seal(public, plain, lease_id)
    except KeyExchangeError as exc:
        raise ApiError(400, "invalid_key_exchange", str(exc)) from None


def release_audited(
    cp: ControlPanel, s: Session, who: Principal, key: ProviderKey | None
) -> AbstractContextManager[Any]:
    """The ``secret_audit_log`` row of a key released sealed (``seal``), or refused with the
    reason (an old runtime, no budget, a stopped agent...); nothing when there is no key."""
    if key is None:
        return nullcontext()
    return Audited(cp, s, who, "seal", secret_id=key.id, name=f"provider:{key.provider}", environment="*")
