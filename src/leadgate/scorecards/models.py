"""The ``scorecards`` table (each lead's latest scorecard and the model version behind
it) and the ``predictions`` table, an input of scoring that the request path reads
(written by :mod:`leadgate.predictive`, which the request path never imports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["Prediction", "StoredScorecard"]


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


class Prediction(Base):
    """A lead's latest predicted probability of the outcome and its top factors."""

    __tablename__ = "predictions"

    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("predictive_models.id", ondelete="CASCADE"), index=True
    )
    probability: Mapped[float] = mapped_column(Float)
    factors: Mapped[dict[str, Any]] = mapped_column(JSONType)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
