"""PII findings in what calls send as well as in their replies: ``direction`` (``reply`` for
every existing row) and, for request findings, the ``action`` the request policy took.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-11 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pii_findings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=8), nullable=False, server_default="reply")
        )
        batch_op.add_column(sa.Column("action", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pii_findings", schema=None) as batch_op:
        batch_op.drop_column("action")
        batch_op.drop_column("direction")
