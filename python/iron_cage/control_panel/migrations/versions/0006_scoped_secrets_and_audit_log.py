"""Secrets scoped to agents and projects, IC tokens of one environment, and secret_audit_log.

- ``secret_bindings``: an IC token reads a secret only when the secret is bound to its agent
  (or its agent's project) and lives in the token's environment.
- ``ic_tokens.environment`` (``production`` for every existing token).
- ``secret_audit_log`` replaces ``secret_audit``: every operation, failed and refused ones
  included, with the requester's role, user id and agent id, the operation, whether it
  succeeded and why not. The old rows are copied (``actor`` ``user:N``/``agent:N`` becomes
  the ids; the old table did not record roles, so a user's row gets the role the user has
  now, ``unknown`` if the user is gone); the new table is append-only by triggers, like the old.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from iron_cage.control_panel.models import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _append_only_sqlite(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


def _append_only_postgres(table: str) -> list[str]:
    return [
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
    ]


def _append_only(table: str) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for stmt in _append_only_postgres(table) if postgres else _append_only_sqlite(table):
        op.execute(stmt)


def _create_log() -> None:
    op.create_table(
        "secret_audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_id", sa.Integer(), nullable=True),
        sa.Column("secret_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("requester_role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("timestamp", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("secret_audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_secret_audit_log_secret_name"), ["secret_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_secret_audit_log_timestamp"), ["timestamp"], unique=False)


def _create_old() -> None:
    op.create_table(
        "secret_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_id", sa.Integer(), nullable=True),
        sa.Column("secret_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("secret_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_secret_audit_secret_name"), ["secret_name"], unique=False)


def _drop(table: str) -> None:
    op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")


def upgrade() -> None:
    with op.batch_alter_table("ic_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("environment", sa.String(length=32), server_default="production", nullable=False)
        )
    op.create_table(
        "secret_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("project", sa.String(length=200), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(agent_id IS NULL) <> (project IS NULL)", name="ck_secret_bindings_one_target"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["secret_id"], ["secrets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("secret_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_secret_bindings_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_secret_bindings_secret_id"), ["secret_id"], unique=False)
    _create_log()
    op.execute(
        "INSERT INTO secret_audit_log (secret_id, secret_name, environment, operation, requester_role, "
        "user_id, agent_id, success, error_message, detail, timestamp) "
        "SELECT a.secret_id, a.secret_name, a.environment, a.action, "
        "CASE WHEN a.actor LIKE 'agent:%' THEN 'agent' ELSE coalesce(u.role, 'unknown') END, "
        "CASE WHEN a.actor LIKE 'user:%' THEN CAST(substr(a.actor, 6) AS INTEGER) END, "
        "CASE WHEN a.actor LIKE 'agent:%' THEN CAST(substr(a.actor, 7) AS INTEGER) END, "
        "TRUE, '', a.detail, a.at "
        "FROM secret_audit a LEFT JOIN users u ON a.actor = 'user:' || u.id ORDER BY a.id"
    )
    _drop("secret_audit")
    _append_only("secret_audit_log")


def downgrade() -> None:
    _create_old()
    op.execute(
        "INSERT INTO secret_audit (secret_id, secret_name, environment, action, actor, detail, at) "
        "SELECT secret_id, secret_name, environment, operation, "
        "CASE WHEN agent_id IS NOT NULL THEN 'agent:' || agent_id ELSE 'user:' || user_id END, "
        "detail, timestamp FROM secret_audit_log WHERE success ORDER BY id"
    )
    _drop("secret_audit_log")
    _append_only("secret_audit")
    with op.batch_alter_table("secret_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_secret_bindings_secret_id"))
        batch_op.drop_index(batch_op.f("ix_secret_bindings_agent_id"))
    op.drop_table("secret_bindings")
    with op.batch_alter_table("ic_tokens", schema=None) as batch_op:
        batch_op.drop_column("environment")
