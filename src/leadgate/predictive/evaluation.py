"""Cross-validation and time-holdout evaluation of leadgate's learners on a tabular file.

Three learners are measured on the same splits: gradient boosting (LightGBM,
calibrated), logistic regression, and their blend (the mean of the two
probabilities). The blend hedges the two ways a model fails on later data:
boosting extrapolates badly when the world drifts, a linear model misses
interactions. It is therefore the learner reported for the time holdout, a
choice made before seeing any data rather than picked on the holdout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from leadgate.predictive.dataset import Dataset
from leadgate.predictive.learners import fit_boosted, fit_linear
from leadgate.predictive.metrics import summarize

__all__ = ["LEARNERS", "TIME_HOLDOUT_LEARNER", "cross_validate", "evaluate_dataset", "time_holdout"]

LEARNERS = ("boosted", "linear", "blend")
TIME_HOLDOUT_LEARNER = "blend"


def _fit_predict_all(
    data: Dataset, train: np.ndarray, test: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    x_train, x_test = data.features.iloc[train], data.features.iloc[test]
    y_train = data.target[train]
    boosted = fit_boosted(x_train, y_train, seed=seed).predict(x_test)
    linear = fit_linear(
        x_train, y_train, numeric=data.numeric, categorical=data.categorical
    ).predict(x_test)
    return {"boosted": boosted, "linear": linear, "blend": (boosted + linear) / 2.0}


def cross_validate(data: Dataset, *, folds: int = 5, seed: int = 7) -> dict[str, dict[str, Any]]:
    """Stratified k-fold for every learner: metrics on pooled out-of-fold predictions."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = {name: np.zeros(len(data.target)) for name in LEARNERS}
    fold_aucs: dict[str, list[float]] = {name: [] for name in LEARNERS}
    for train, test in splitter.split(data.features, data.target):
        predictions = _fit_predict_all(data, train, test, seed)
        for name in LEARNERS:
            oof[name][test] = predictions[name]
            auc = roc_auc_score(data.target[test], predictions[name])
            fold_aucs[name].append(round(float(auc), 4))
    results = {}
    for name in LEARNERS:
        result = summarize(data.target, oof[name])
        result["fold_roc_auc"] = fold_aucs[name]
        result["mean_fold_roc_auc"] = round(float(np.mean(fold_aucs[name])), 4)
        results[name] = result
    return results


def time_holdout(data: Dataset, *, share: float = 0.2, seed: int = 7) -> dict[str, dict[str, Any]]:
    """Train on the earliest 80 %, test on the latest 20 % (ties kept in file order)."""
    if data.time is None:
        raise ValueError("time holdout needs a time column")
    order = np.argsort(data.time.to_numpy(), kind="stable")
    cut = int(len(order) * (1 - share))
    train, test = order[:cut], order[cut:]
    predictions = _fit_predict_all(data, train, test, seed)
    results = {}
    for name in LEARNERS:
        result = summarize(data.target[test], predictions[name])
        result["train_rows"] = len(train)
        results[name] = result
    return results


def evaluate_dataset(data: Dataset, *, folds: int = 5, seed: int = 7) -> dict[str, Any]:
    """Every learner by CV (and time holdout when a time order is known).

    The headline figures are the learner with the best cross-validated ROC AUC;
    the time-holdout headline is the blend (see the module docstring).
    """
    cv = cross_validate(data, folds=folds, seed=seed)
    holdout = time_holdout(data, seed=seed) if data.time is not None else None
    models: dict[str, Any] = {}
    for name in LEARNERS:
        entry: dict[str, Any] = {"cross_validation": cv[name]}
        if holdout is not None:
            entry["time_holdout"] = holdout[name]
        models[name] = entry
    best = max(LEARNERS, key=lambda name: cv[name]["roc_auc"])
    report: dict[str, Any] = {
        "source": data.source,
        "rows": len(data.target),
        "positives": data.positives,
        "folds": folds,
        "seed": seed,
        "numeric": list(data.numeric),
        "categorical": list(data.categorical),
        "best_learner": best,
        "roc_auc": cv[best]["roc_auc"],
        "pr_auc": cv[best]["pr_auc"],
        "lift_top_decile": cv[best]["lift_top_decile"],
        "brier": cv[best]["brier"],
        "models": models,
    }
    if holdout is not None:
        report["time_holdout"] = {"learner": TIME_HOLDOUT_LEARNER, **holdout[TIME_HOLDOUT_LEARNER]}
    return report
