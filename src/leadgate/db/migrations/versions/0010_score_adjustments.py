"""Manual score adjustments: points a person adds to (or takes from) one group's
score of a lead, with the reason, who and when, and their revocation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("group_name", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=320), nullable=True),
        sa.CheckConstraint(
            "points <> 0 AND points >= -1000 AND points <= 1000",
            name=op.f("ck_score_adjustments_points"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_score_adjustments_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_adjustments")),
    )
    op.create_index("ix_score_adjustments_lead_id", "score_adjustments", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_score_adjustments_lead_id", table_name="score_adjustments")
    op.drop_table("score_adjustments")
