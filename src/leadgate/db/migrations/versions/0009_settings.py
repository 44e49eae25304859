"""The admin settings: rep absences (dates a rep gets no new leads) and the stored
versions of the handoff playbooks

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rep_absences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rep_email", sa.String(length=320), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rep_email"],
            ["reps.email"],
            name=op.f("fk_rep_absences_rep_email_reps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rep_absences")),
    )
    op.create_index("ix_rep_absences_rep_email_ends_on", "rep_absences", ["rep_email", "ends_on"])
    op.create_table(
        "playbook_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_playbook_versions_version")),
    )


def downgrade() -> None:
    op.drop_table("playbook_versions")
    op.drop_index("ix_rep_absences_rep_email_ends_on", table_name="rep_absences")
    op.drop_table("rep_absences")
