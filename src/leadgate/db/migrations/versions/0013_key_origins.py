"""api_keys.origins: the web sites (origins) an ingest key may be used from in
browsers. A key with origins is a public key: it only writes through the tracking
endpoints, from those origins, rate-limited per key and client address.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("origins", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("origins")
