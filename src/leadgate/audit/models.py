"""The ``audit_entries`` table: who did what, when, to which lead (beside stage history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["AuditEntry"]


class AuditEntry(Base):
    """One action by a person or key that is not a stage change: a reassignment, a
    completed task, a user created, a setting changed. ``detail`` says what changed."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_lead_at", "lead_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
