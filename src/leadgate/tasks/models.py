"""The ``tasks`` table: work for a lead's owner with an SLA due time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import UTCDateTime

__all__ = ["Task"]


class Task(Base):
    """A task; ``sla_met`` is set when it is completed (on time or not) or goes overdue."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_due", "status", "due_at"),
        # a lead's open tasks, soonest due first (the queue's SLA column)
        Index("ix_tasks_lead_status_due", "lead_id", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    stage_change_id: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(320), index=True)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open, done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sla_seconds: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_met: Mapped[bool | None] = mapped_column(Boolean)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
