"""leads.events_stored: each lead's stored event count, kept by the event writers

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("events_stored", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute(
        "UPDATE leads SET events_stored = "
        "(SELECT count(*) FROM events WHERE events.lead_id = leads.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("events_stored")
