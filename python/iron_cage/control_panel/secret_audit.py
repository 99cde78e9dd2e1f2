"""``secret_audit_log``: one row for every operation on a secret or a provider key, failed and
refused ones included (the table is append-only in the database).

A successful operation's row is written in the request's own transaction. A refused or failed
one rolls its transaction back, so its row is written after the rollback, in a transaction of
its own (``events.after_rollback``). The row never holds a value: it names the secret, the
operation, who asked (role, user id, agent id) and why it failed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import TracebackType

from sqlalchemy import insert
from sqlalchemy.orm import Session

from iron_cage.control_panel.errors import ApiError
from iron_cage.control_panel.events import after_rollback
from iron_cage.control_panel.models import Secret, SecretAuditLog
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.state import ControlPanel

UTC = timezone.utc
_INSERT = insert(SecretAuditLog)


class Audited:
    """``with Audited(cp, s, who, "read", secret_id=5) as audit: ...`` writes the operation's row:
    success when the block returns, the error's message (or ``audit.reason``) when it raises."""

    def __init__(
        self,
        cp: ControlPanel,
        s: Session,
        who: Principal,
        operation: str,
        *,
        secret_id: int | None = None,
        name: str = "",
        environment: str = "",
    ) -> None:
        self.cp = cp
        self.s = s
        self.who = who
        self.operation = operation
        self.secret_id = secret_id
        self.name = name
        self.environment = environment
        self.detail = ""
        # Why a refusal happened when the answer must not say it (a 404 for a secret that
        # exists but is not the caller's): recorded here, never sent.
        self.reason: str | None = None

    def target(self, x: Secret) -> None:
        self.secret_id, self.name, self.environment = x.id, x.name, x.environment

    def refuse(self, reason: str, error: ApiError) -> ApiError:
        """``error`` to raise, with the real ``reason`` for the audit row."""
        self.reason = reason
        return error

    def row(self, success: bool, error: str = "") -> dict[str, object]:
        return {
            "secret_id": self.secret_id,
            "secret_name": self.name.replace("\x00", "")[:200],
            "environment": self.environment.replace("\x00", "")[:32],
            "operation": self.operation,
            "requester_role": self.who.role,
            "user_id": self.who.user_id,
            "agent_id": self.who.agent_id,
            "success": success,
            "error_message": error[:2000],
            "detail": self.detail[:2000],
            "timestamp": datetime.now(UTC),
        }

    def __enter__(self) -> Audited:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if e is None:
            # A Core INSERT (a cached statement): half the cost of the ORM's, on every handshake.
            self.s.execute(_INSERT, self.row(True))
            return
        if isinstance(e, ApiError):
            message = self.reason or f"{e.status} {e.code}: {e.message}"
        else:
            message = f"internal error ({type(e).__name__})"
        row = self.row(False, message)

        def write() -> None:
            with self.cp.db.session() as s:
                s.execute(_INSERT, row)

        after_rollback(self.s, write)
