"""anonymous messages: tracking calls kept until the visitor identifies

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anonymous_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("anonymous_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column(
            "message",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anonymous_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_anonymous_messages_message_id")),
    )
    with op.batch_alter_table("anonymous_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_anonymous_messages_anonymous_id"), ["anonymous_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_anonymous_messages_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("anonymous_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anonymous_messages_received_at"))
        batch_op.drop_index(batch_op.f("ix_anonymous_messages_anonymous_id"))
    op.drop_table("anonymous_messages")
