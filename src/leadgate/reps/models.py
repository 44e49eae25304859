"""The ``reps`` table: sales reps who own leads, their territories and round-robin weight;
``rep_absences``: the dates a rep is away (no new leads for them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["Rep", "RepAbsence"]


class Rep(Base):
    """A rep. ``territories`` is a list of {country, industry, size_band, tier: [values]}
    rules (a rule matches when every key it names does); ``assigned`` counts round-robin
    assignments, so weights hold over time."""

    __tablename__ = "reps"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    territories: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    manager: Mapped[str | None] = mapped_column(String(320))
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RepAbsence(Base):
    """A rep away from ``starts_on`` to ``ends_on`` (both included, UTC dates): owner
    assignment skips them on those days as if they were unavailable."""

    __tablename__ = "rep_absences"
    __table_args__ = (Index("ix_rep_absences_rep_email_ends_on", "rep_email", "ends_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rep_email: Mapped[str] = mapped_column(
        String(320), ForeignKey("reps.email", ondelete="CASCADE")
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
