"""The ``scorecards`` table (each lead's latest scorecard and the model version behind
it), and two inputs of scoring that the request path reads: the ``predictions``
table (written by :mod:`leadgate.predictive`, which the request path never imports)
and the ``score_adjustments`` people make by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["MAX_ADJUSTMENT", "MAX_REASON", "Prediction", "ScoreAdjustment", "StoredScorecard"]

#: The largest number of points one adjustment may add or take away.
MAX_ADJUSTMENT = 1000.0
#: The longest reason an adjustment may give.
MAX_REASON = 500


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
    #: what the card was computed from besides its events' content (None: unknown);
    #: see :mod:`leadgate.scorecards.inputs`
    inputs_digest: Mapped[str | None] = mapped_column(String(32), default=None)
    #: each event rule's matched count and counted events, compactly
    #: (:meth:`~leadgate.scoring.scorecard.Scorecard.counted_json`; None: unknown)
    counted_events: Mapped[str | None] = mapped_column(Text, default=None)


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


class ScoreAdjustment(Base):
    """Points a person added to (or took from) one group's score of a lead, and why.

    It counts from ``at`` until ``revoked_at`` (never deleted: revoking keeps the
    record); see docs/scoring-models.md, "Manual adjustments".
    """

    __tablename__ = "score_adjustments"
    __table_args__ = (
        CheckConstraint("points <> 0 AND points >= -1000 AND points <= 1000", name="points"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    group_name: Mapped[str] = mapped_column(String(200))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(MAX_REASON))
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(320), default=None)
