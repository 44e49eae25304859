"""leads.first_touch_* and leads.latest_touch_*: each lead's first touch (earliest
by event time) and latest non-direct touch, read from the tracking calls' UTM
parameters and referrers, with their default channel group (leadgate.leads.attribution).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TOUCH_COLUMNS = (
    ("at", sa.DateTime(timezone=True)),
    ("source", sa.String(200)),
    ("medium", sa.String(100)),
    ("campaign", sa.String(300)),
    ("channel", sa.String(32)),
)


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch_op:
        for touch in ("first", "latest"):
            for name, kind in _TOUCH_COLUMNS:
                batch_op.add_column(sa.Column(f"{touch}_touch_{name}", kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch_op:
        for touch in ("first", "latest"):
            for name, _ in _TOUCH_COLUMNS:
                batch_op.drop_column(f"{touch}_touch_{name}")
