"""The ``scorecards`` table: each lead's latest scorecard and the model version behind it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["StoredScorecard"]


class StoredScorecard(Base):
    """Scores per group, grade, MQL verdict and the full breakdown, as of ``as_of``."""

    __tablename__ = "scorecards"

    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    scores: Mapped[dict[str, float]] = mapped_column(JSONType)
    grade: Mapped[str | None] = mapped_column(String(50))
    mql: Mapped[bool] = mapped_column(Boolean, index=True)
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONType)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
