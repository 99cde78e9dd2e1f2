"""Ids are never reused; access tokens carry their user's token stamp.

SQLite gives a new row the highest id + 1, so deleting the newest user handed their id to
the next one (and the deleted user's access token to them). AUTOINCREMENT makes SQLite
remember every id it gave out; PostgreSQL sequences never go back. On SQLite the tables
are rebuilt (batch mode: copy, drop, rename; env.py keeps foreign keys off meanwhile).

``users.token_stamp`` is a random value that changes whenever a user's access must end
(password change or reset, role change, suspension); access tokens carry it and are
refused once it differs, so neither a deleted user's token nor a stale one acts again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 21:00:00.000000
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Tables whose rows are deleted, or that hold credentials and the principals they name.
AUTOINCREMENT = ("users", "agents", "ic_tokens", "refresh_tokens", "limits", "alert_channels")


def _rebuild(table: str, autoincrement: bool) -> None:
    with op.batch_alter_table(
        table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ) as batch_op:
        batch_op.alter_column("id", existing_type=sa.Integer(), autoincrement=autoincrement)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in AUTOINCREMENT:
            _rebuild(table, True)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_stamp", sa.String(length=32), server_default="", nullable=False))
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("token_stamp", sa.String()))
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(users.update().where(users.c.id == user_id).values(token_stamp=secrets.token_hex(16)))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_stamp")
    if op.get_bind().dialect.name == "sqlite":
        for table in AUTOINCREMENT:
            _rebuild(table, False)
