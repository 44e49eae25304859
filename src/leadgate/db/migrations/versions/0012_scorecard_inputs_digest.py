"""scorecards.inputs_digest and counted_events: what the card was computed from
besides its events' content (``leadgate.scorecards.inputs``), and the events each
of its event rules counted, compactly. A read that needs an account mate's roll-up
source scores takes them from the mate's counted events while the digest of the
mate's row still equals the card's (``leadgate.scorecards.explain``); cards stored
before these columns are unknown (NULL) and read from their events.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scorecards") as batch_op:
        batch_op.add_column(sa.Column("inputs_digest", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("counted_events", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scorecards") as batch_op:
        batch_op.drop_column("counted_events")
        batch_op.drop_column("inputs_digest")
