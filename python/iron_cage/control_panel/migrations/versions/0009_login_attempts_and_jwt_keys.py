"""Login attempts counted per account and client address; access-token signing keys encrypted
and rotatable.

- ``login_attempts`` replaces ``users.failed_logins``/``locked_until``: failures from one
  address lock that address out of the account (and, past a higher count, out of every
  account), never the account for everyone. Existing per-user counters are dropped.
- ``jwt_keys``: signing keys encrypted under the master key, with a ``kid`` in every token.
  The plaintext ``settings.jwt_signing_key`` of earlier versions is moved in by the server at
  its first start (a migration cannot encrypt: it has no master key); tokens signed with it
  stay valid until they expire.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from iron_cage.control_panel.models import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", UtcDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempts_account"), ["account"], unique=False)
    op.create_table(
        "jwt_keys",
        sa.Column("kid", sa.String(length=40), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    # On SQLite dropping columns rebuilds the table: keep its AUTOINCREMENT (migration 0003).
    with op.batch_alter_table("users", schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("locked_until", UtcDateTime(timezone=True), nullable=True))
    op.drop_table("jwt_keys")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_account"))
    op.drop_table("login_attempts")
