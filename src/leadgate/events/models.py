"""The ``events`` table: engagement events, idempotent on ``event_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["Event"]


class Event(Base):
    """One thing a lead did. ``event_id`` is unique: delivering it twice stores it once."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_lead_occurred", "lead_id", "occurred_at"),)

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    lead_id: Mapped[str] = mapped_column(String(64), ForeignKey("leads.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(200), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(200))
    campaign: Mapped[str | None] = mapped_column(String(300))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
