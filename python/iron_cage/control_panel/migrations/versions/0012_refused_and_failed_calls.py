"""Refused and failed calls in ``usage_records``, and who stopped an agent.

- ``usage_records.reason``: why a call was refused or failed (a few words, never a value);
- ``usage_records.count``: how many identical refused or failed calls the record stands for
  (a runtime collapses a retry storm into one record per flush interval);
- ``usage_records.saved_micros``: for ``breaker_open``, what the refused calls would have cost;
- ``agents.stopped_by``: who stopped the agent (a stopped runtime's error names them).

Existing rows are charged calls: reason ``''``, count 1, nothing saved.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("count", sa.BigInteger(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("saved_micros", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stopped_by", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("stopped_by")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_column("saved_micros")
        batch_op.drop_column("count")
        batch_op.drop_column("reason")
