"""The two learners leadgate offers: gradient boosting (LightGBM) and logistic regression.

The boosted model is calibrated with isotonic regression fitted on
out-of-fold predictions, so its probabilities mean what they say; its
per-row explanations are SHAP values computed by LightGBM itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["BOOSTED_PARAMS", "BoostedModel", "LinearModel", "fit_boosted", "fit_linear"]

BOOSTED_PARAMS: dict[str, Any] = {
    "n_estimators": 400,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 5.0,
    "min_data_per_group": 50,
    "cat_smooth": 20.0,
    "max_cat_to_onehot": 8,
    "verbose": -1,
    "n_jobs": 2,
}


@dataclass
class BoostedModel:
    """A LightGBM classifier plus the isotonic map from its scores to probabilities."""

    classifier: lgb.LGBMClassifier
    calibrator: IsotonicRegression | None
    columns: list[str]

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classifier.predict_proba(frame[self.columns])[:, 1])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.raw(frame)
        if self.calibrator is None:
            return raw
        calibrated: np.ndarray = np.clip(np.asarray(self.calibrator.predict(raw)), 0.0, 1.0)
        return calibrated

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """SHAP values in log-odds, one column per feature plus the bias last."""
        return np.asarray(self.classifier.predict(frame[self.columns], pred_contrib=True))


@dataclass
class LinearModel:
    """A one-hot + standardised logistic regression."""

    pipeline: Pipeline
    columns: list[str] = field(default_factory=list)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(frame[self.columns])[:, 1])


def _classifier(seed: int, params: dict[str, Any] | None) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(**{**BOOSTED_PARAMS, **(params or {}), "random_state": seed})


def fit_boosted(
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    seed: int = 7,
    calibrate: bool = True,
    params: dict[str, Any] | None = None,
) -> BoostedModel:
    """Fit LightGBM; calibrate on 3-fold out-of-fold scores when asked."""
    columns = list(frame.columns)
    calibrator = None
    if calibrate and int(y.sum()) >= 6 and int((1 - y).sum()) >= 6:
        oof = np.zeros(len(y))
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        for train, test in folds.split(frame, y):
            model = _classifier(seed, params).fit(frame.iloc[train], y[train])
            oof[test] = model.predict_proba(frame.iloc[test])[:, 1]
        calibrator = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, y)
    classifier = _classifier(seed, params).fit(frame, y)
    return BoostedModel(classifier=classifier, calibrator=calibrator, columns=columns)


def fit_linear(
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    c: float = 1.0,
) -> LinearModel:
    """Fit an L2-regularised logistic regression on one-hot categories and scaled numbers."""
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                list(numeric),
            )
        )
    if categorical:
        transformers.append(
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), list(categorical))
        )
    pipeline = Pipeline(
        [
            ("prepare", ColumnTransformer(transformers)),
            ("model", LogisticRegression(C=c, max_iter=5000)),
        ]
    )
    columns = [*numeric, *categorical]
    prepared = frame[columns].copy()
    for column in categorical:
        prepared[column] = prepared[column].astype(str)
    pipeline.fit(prepared, y)
    return _LinearWrapper(pipeline=pipeline, columns=columns, categorical=list(categorical))


@dataclass
class _LinearWrapper(LinearModel):
    categorical: list[str] = field(default_factory=list)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        prepared = frame[self.columns].copy()
        for column in self.categorical:
            prepared[column] = prepared[column].astype(str)
        return np.asarray(self.pipeline.predict_proba(prepared)[:, 1])
