"""PII policies per developer and per agent, for what requests send and what replies bring: JSON
maps of entity (or ``default``) to action, NULL for none; runtimes receive the stricter of both
with each lease.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("users", "agents"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("pii_egress", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("pii_ingress", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("users", "agents"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("pii_ingress")
            batch_op.drop_column("pii_egress")
