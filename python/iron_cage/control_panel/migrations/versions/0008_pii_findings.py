"""PII findings reported with usage (one row per finding), and the marks that make a PII alert
fire once per agent, entity and window.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from iron_cage.control_panel.models import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pii_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("value_hmac", sa.String(length=128), nullable=False),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pii_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pii_findings_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pii_findings_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pii_findings_request_id"), ["request_id"], unique=False)
    op.create_table(
        "pii_alert_marks",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("window_start", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id", "entity", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("pii_alert_marks")
    with op.batch_alter_table("pii_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pii_findings_request_id"))
        batch_op.drop_index(batch_op.f("ix_pii_findings_received_at"))
        batch_op.drop_index(batch_op.f("ix_pii_findings_agent_id"))
    op.drop_table("pii_findings")
