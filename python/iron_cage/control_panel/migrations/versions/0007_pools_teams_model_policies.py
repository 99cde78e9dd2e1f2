"""Budget pools of developers and teams, teams, allowed models and providers, unauthorized actions.

- ``teams`` and ``team_members``;
- ``budget_pools``: what an admin allocated to a developer or a team; ``budgets.pool_id``
  names the pool an agent's allocation is drawn from (NULL: allocated directly, as before);
- ``users.allowed_models|allowed_providers`` and ``agents.allowed_models|allowed_providers``:
  JSON lists, NULL for no restriction (every existing row);
- ``unauthorized_actions``: refused attempts worth an admin's attention (a usage report for a
  model the agent may not call).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from iron_cage.control_panel.models import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_members_user_id"), ["user_id"], unique=False)
    op.create_table(
        "budget_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("limit_micros", sa.BigInteger(), nullable=False),
        sa.Column("allocated_micros", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="ck_budget_pools_one_owner"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id"),
        sa.UniqueConstraint("user_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "unauthorized_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("unauthorized_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unauthorized_actions_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_unauthorized_actions_at"), ["at"], unique=False)
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_budgets_pool_id"), ["pool_id"], unique=False)
        batch_op.create_foreign_key("fk_budgets_pool_id_budget_pools", "budget_pools", ["pool_id"], ["id"])
    for table in ("users", "agents"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("allowed_models", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("allowed_providers", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("agents", "users"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("allowed_providers")
            batch_op.drop_column("allowed_models")
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_constraint("fk_budgets_pool_id_budget_pools", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_budgets_pool_id"))
        batch_op.drop_column("pool_id")
    with op.batch_alter_table("unauthorized_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unauthorized_actions_at"))
        batch_op.drop_index(batch_op.f("ix_unauthorized_actions_agent_id"))
    op.drop_table("unauthorized_actions")
    op.drop_table("budget_pools")
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_user_id"))
    op.drop_table("team_members")
    op.drop_table("teams")
