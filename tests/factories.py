"""Rows several tests need, written the way the application writes them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from leadgate.predictive.models import PredictiveModel
from leadgate.scorecards.models import Prediction

__all__ = ["add_predictions"]


def add_predictions(session: Session, probabilities: Mapping[str, float], *, at: datetime) -> None:
    """A trained model version on record and each lead's predicted probability from it."""
    model = PredictiveModel(
        name="p",
        version=1,
        outcome="sql",
        as_of=at,
        trained_at=at,
        seed=1,
        metrics={},
        feature_spec={},
        booster="",
    )
    session.add(model)
    session.flush()
    for lead_id, probability in probabilities.items():
        session.add(
            Prediction(
                lead_id=lead_id,
                model_id=model.id,
                probability=probability,
                factors={},
                as_of=at,
                computed_at=at,
            )
        )
