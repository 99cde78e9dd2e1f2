"""Usage is placed in time by when the server received it: the index moves to received_at.

A runtime's ``occurred_at`` is its own word; aggregating by it let a back-dated report
escape the ``daily_usd`` cap and the usage windows. Aggregates now use ``received_at``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_records_occurred_at"))
        batch_op.create_index(batch_op.f("ix_usage_records_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_records_received_at"))
        batch_op.create_index(batch_op.f("ix_usage_records_occurred_at"), ["occurred_at"], unique=False)
