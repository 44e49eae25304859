"""Train a calibrated model on the operational database, store it, and score leads with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from leadgate.common.ids import utcnow
from leadgate.exceptions import LeadgateError
from leadgate.predictive.features import (
    CATEGORICAL,
    OUTCOME_STAGES,
    build_features,
    describe_feature,
    outcome_labels,
)
from leadgate.predictive.learners import BoostedModel, fit_boosted, fit_linear
from leadgate.predictive.metrics import summarize
from leadgate.predictive.models import Prediction, PredictiveModel

__all__ = [
    "LoadedModel",
    "TrainResult",
    "explain_lead",
    "fit_and_evaluate",
    "load_model",
    "score_leads",
    "top_factors",
    "train_model",
]

#: Below this many conversions a learned model is fragile; we still train, and say so.
FEW_POSITIVES = 100


@dataclass(frozen=True)
class TrainResult:
    """The stored model row and what training saw."""

    model_id: int
    label: str
    metrics: dict[str, Any]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class LoadedModel:
    """A stored model ready to predict."""

    row: PredictiveModel
    booster: lgb.Booster
    columns: list[str]
    event_types: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.row.name}@v{self.row.version}"

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        calibration = self.row.calibration
        if not calibration:
            return raw
        calibrated: np.ndarray = np.interp(raw, calibration["x"], calibration["y"])
        return calibrated

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of the outcome."""
        return self.calibrate(np.asarray(self.booster.predict(frame[self.columns])))

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """SHAP values (log-odds) per feature, bias last: 30-40x the cost of a prediction."""
        return np.asarray(self.booster.predict(frame[self.columns], pred_contrib=True))


def fit_and_evaluate(
    frame: pd.DataFrame, y: np.ndarray, *, seed: int = 7
) -> tuple[BoostedModel, dict[str, Any]]:
    """Measure on a stratified 80/20 split (boosted and logistic), then refit on every row.

    The final model is calibrated on out-of-fold scores of all rows.
    """
    train, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
    check = fit_boosted(frame.iloc[train], y[train], seed=seed)
    numeric = tuple(c for c in frame.columns if c not in CATEGORICAL)
    categorical = tuple(c for c in frame.columns if c in CATEGORICAL)
    linear = fit_linear(frame.iloc[train], y[train], numeric=numeric, categorical=categorical)
    metrics = {
        "rows": len(y),
        "positives": int(y.sum()),
        "holdout": summarize(y[test], check.predict(frame.iloc[test])),
        "holdout_linear_roc_auc": summarize(y[test], linear.predict(frame.iloc[test]))["roc_auc"],
    }
    return fit_boosted(frame, y, seed=seed), metrics


def _training_set(
    session: Session, *, outcome: str, as_of: datetime, until: datetime
) -> tuple[pd.DataFrame, np.ndarray, tuple[str, ...]]:
    features = build_features(session, as_of=as_of)
    already, converted = outcome_labels(session, outcome=outcome, as_of=as_of, until=until)
    frame = features.frame.drop(index=[i for i in already if i in features.frame.index])
    y = frame.index.isin(list(converted)).astype(np.int8)
    return frame, np.asarray(y), features.event_types


def train_model(
    session: Session,
    *,
    outcome: str,
    as_of: datetime,
    until: datetime,
    seed: int = 7,
    name: str | None = None,
) -> TrainResult:
    """Learn who reaches ``outcome`` after ``as_of`` (by ``until``) from features as of ``as_of``.

    Leads that had already reached the outcome by ``as_of`` are left out. The
    stored metrics come from a stratified 80/20 split; the stored model is then
    refitted on every row and calibrated on out-of-fold scores.
    """
    if outcome not in OUTCOME_STAGES:
        raise LeadgateError(f"unknown outcome {outcome!r}; use {' or '.join(OUTCOME_STAGES)}")
    if as_of >= until:
        raise LeadgateError("--as-of must be before the end of the outcome window")
    frame, y, event_types = _training_set(session, outcome=outcome, as_of=as_of, until=until)
    positives = int(y.sum())
    if positives < 10 or len(y) - positives < 10:
        raise LeadgateError(
            f"not enough history to learn from: {positives} of {len(y)} leads reached {outcome} "
            f"between {as_of:%Y-%m-%d} and {until:%Y-%m-%d}; need at least 10 of each class"
        )
    warnings = []
    if positives < FEW_POSITIVES:
        warnings.append(
            f"only {positives} conversions to learn from; predictions are rough below about "
            f"{FEW_POSITIVES} (commercial tools ask for around a thousand leads and "
            "a hundred conversions)"
        )
    final, metrics = fit_and_evaluate(frame, y, seed=seed)
    row = _store(session, final, frame, event_types, outcome, as_of, seed, metrics, name)
    return TrainResult(
        model_id=row.id,
        label=f"{row.name}@v{row.version}",
        metrics=metrics,
        warnings=tuple(warnings),
    )


def _store(
    session: Session,
    model: BoostedModel,
    frame: pd.DataFrame,
    event_types: tuple[str, ...],
    outcome: str,
    as_of: datetime,
    seed: int,
    metrics: dict[str, Any],
    name: str | None,
) -> PredictiveModel:
    model_name = name or f"predicted-{outcome}"
    latest = session.scalar(
        select(func.max(PredictiveModel.version)).where(PredictiveModel.name == model_name)
    )
    calibration = None
    if model.calibrator is not None:
        calibration = {
            "x": [float(v) for v in model.calibrator.X_thresholds_],
            "y": [float(v) for v in model.calibrator.y_thresholds_],
        }
    row = PredictiveModel(
        name=model_name,
        version=(latest or 0) + 1,
        outcome=outcome,
        as_of=as_of,
        trained_at=utcnow(),
        seed=seed,
        metrics=metrics,
        feature_spec={"columns": list(frame.columns), "event_types": list(event_types)},
        booster=model.classifier.booster_.model_to_string(),
        calibration=calibration,
    )
    session.add(row)
    session.flush()
    return row


def load_model(
    session: Session,
    *,
    name: str | None = None,
    version: int | None = None,
    model_id: int | None = None,
) -> LoadedModel:
    """The newest stored model (or the named version)."""
    query = select(PredictiveModel).order_by(
        PredictiveModel.trained_at.desc(), PredictiveModel.id.desc()
    )
    if name is not None:
        query = query.where(PredictiveModel.name == name)
    if version is not None:
        query = query.where(PredictiveModel.version == version)
    if model_id is not None:
        query = query.where(PredictiveModel.id == model_id)
    row = session.scalars(query.limit(1)).first()
    if row is None:
        raise LeadgateError("no trained predictive model; run `leadgate predict train` first")
    return LoadedModel(
        row=row,
        booster=lgb.Booster(model_str=row.booster),
        columns=list(row.feature_spec["columns"]),
        event_types=tuple(row.feature_spec["event_types"]),
    )


def top_factors(
    names: list[str], values: pd.DataFrame, contributions: np.ndarray, limit: int = 3
) -> list[dict[str, Any]]:
    """Per row: the ``limit`` strongest SHAP contributions up and down, in words.

    Vectorised: one argsort over the whole matrix, then only the chosen cells
    are turned into text.
    """
    shap = contributions[:, :-1]
    order = np.argsort(shap, axis=1, kind="stable")
    lowest, highest = order[:, :limit], order[:, ::-1][:, :limit]
    matrix = values[names].to_numpy(dtype=object)
    factors = []
    for row in range(shap.shape[0]):
        up = [
            {
                "feature": names[i],
                "reason": describe_feature(names[i], matrix[row, i]),
                "log_odds": round(float(shap[row, i]), 4),
            }
            for i in highest[row]
            if shap[row, i] > 0
        ]
        down = [
            {
                "feature": names[i],
                "reason": describe_feature(names[i], matrix[row, i]),
                "log_odds": round(float(shap[row, i]), 4),
            }
            for i in lowest[row]
            if shap[row, i] < 0
        ]
        factors.append(
            {"up": up, "down": down, "base_log_odds": round(float(contributions[row, -1]), 4)}
        )
    return factors


#: Reasons (SHAP) cost 30-40x a prediction, so they are stored for the most likely
#: leads only (all leads in smaller databases); `leadgate explain` computes them on
#: demand for any other lead.
EXPLAIN_LIMIT = 50_000


def explain_lead(
    session: Session, *, model: LoadedModel, lead_id: str, as_of: datetime
) -> dict[str, Any]:
    """Probability and reasons for one lead, computed now (features of its account only)."""
    features = build_features(
        session, as_of=as_of, event_types=model.event_types, account_of=lead_id
    ).frame
    for column in model.columns:
        if column not in features.columns:
            features[column] = np.nan
    if lead_id not in features.index:
        raise LeadgateError(f"lead {lead_id} did not exist as of {as_of:%Y-%m-%d %H:%M}")
    row = features.loc[[lead_id]]
    probability = float(model.probabilities(row)[0])
    factors = top_factors(model.columns, row, model.contributions(row))[0]
    return {"model": model.label, "probability": probability, **factors}


def score_leads(
    session: Session,
    *,
    model: LoadedModel,
    as_of: datetime,
    limit: int = 3,
    explain_limit: int = EXPLAIN_LIMIT,
) -> int:
    """Predict every lead as of ``as_of`` and store probabilities; return the count.

    Reasons (top ``limit`` factors up and down) are stored with the
    ``explain_limit`` most likely leads.
    """
    frame = build_features(session, as_of=as_of, event_types=model.event_types).frame
    for column in model.columns:
        if column not in frame.columns:
            frame[column] = np.nan
    if frame.empty:
        return 0
    probabilities = model.probabilities(frame)
    ranked = np.argsort(-probabilities, kind="stable")[:explain_limit]
    explained = frame.iloc[ranked]
    factors = top_factors(model.columns, explained, model.contributions(explained), limit)
    reasons = dict(zip(explained.index, factors, strict=True))
    computed_at = utcnow()
    rows = [
        {
            "lead_id": lead_id,
            "model_id": model.row.id,
            "probability": float(probabilities[position]),
            "factors": {
                "model": model.label,
                **reasons.get(lead_id, {"up": [], "down": [], "stored": False}),
            },
            "as_of": as_of,
            "computed_at": computed_at,
        }
        for position, lead_id in enumerate(frame.index)
    ]
    session.execute(delete(Prediction))
    for start in range(0, len(rows), 5000):
        session.execute(insert(Prediction), rows[start : start + 5000])
    return len(rows)
