"""stage_changes.handoff: a stage entry whose handoff a batch path skipped ("skipped")
or ran later on request ("released"); NULL for every other entry

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handoff", sa.String(16), nullable=True))
        batch_op.create_index("ix_stage_changes_handoff", ["handoff"])


def downgrade() -> None:
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_changes_handoff")
        batch_op.drop_column("handoff")
