"""Tables of predictive scoring: trained model versions and per-lead predictions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

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
