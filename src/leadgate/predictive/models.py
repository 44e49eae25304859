"""Tables of predictive scoring: trained model versions (and, re-exported, the
per-lead predictions, which live beside the scorecards that read them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime
from leadgate.scorecards.models import Prediction

__all__ = ["Prediction", "PredictiveModel"]


class PredictiveModel(Base):
    """One trained, calibrated model version with its metrics and everything to rerun it."""

    __tablename__ = "predictive_models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seed: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    feature_spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    booster: Mapped[str] = mapped_column(Text)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
