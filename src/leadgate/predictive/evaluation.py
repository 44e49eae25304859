"""Cross-validation and time-holdout evaluation of both learners on a tabular file."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from leadgate.predictive.dataset import Dataset
from leadgate.predictive.learners import fit_boosted, fit_linear
from leadgate.predictive.metrics import summarize

__all__ = ["LEARNERS", "cross_validate", "evaluate_dataset", "time_holdout"]

LEARNERS = ("boosted", "linear")


def _fit_predict(
    learner: str, data: Dataset, train: np.ndarray, test: np.ndarray, seed: int
) -> np.ndarray:
    x_train, x_test = data.features.iloc[train], data.features.iloc[test]
    y_train = data.target[train]
    if learner == "boosted":
        return fit_boosted(x_train, y_train, seed=seed).predict(x_test)
    model = fit_linear(x_train, y_train, numeric=data.numeric, categorical=data.categorical)
    return model.predict(x_test)


def cross_validate(data: Dataset, learner: str, *, folds: int = 5, seed: int = 7) -> dict[str, Any]:
    """Stratified k-fold: metrics on the pooled out-of-fold predictions plus the per-fold AUCs."""
    from sklearn.metrics import roc_auc_score

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = np.zeros(len(data.target))
    fold_aucs = []
    for train, test in splitter.split(data.features, data.target):
        oof[test] = _fit_predict(learner, data, train, test, seed)
        fold_aucs.append(round(float(roc_auc_score(data.target[test], oof[test])), 4))
    result = summarize(data.target, oof)
    result["fold_roc_auc"] = fold_aucs
    result["mean_fold_roc_auc"] = round(float(np.mean(fold_aucs)), 4)
    return result


def _time_order(data: Dataset) -> np.ndarray:
    if data.time is None:
        raise ValueError("time holdout needs a time column")
    return np.argsort(data.time.to_numpy(), kind="stable")


def time_holdout(
    data: Dataset, learner: str, *, share: float = 0.2, seed: int = 7
) -> dict[str, Any]:
    """Train on the earliest 80 %, test on the latest 20 % (ties kept in file order)."""
    order = _time_order(data)
    cut = int(len(order) * (1 - share))
    train, test = order[:cut], order[cut:]
    predictions = _fit_predict(learner, data, train, test, seed)
    result = summarize(data.target[test], predictions)
    result["train_rows"] = len(train)
    return result


def choose_for_time(data: Dataset, *, share: float = 0.2, seed: int = 7) -> dict[str, float]:
    """Validation AUC of each learner on the latest part of the *training* period.

    Picks the learner for a time holdout without looking at the holdout: the
    training 80 % is split again in time (its earliest 80 % vs the rest).
    """
    from sklearn.metrics import roc_auc_score

    order = _time_order(data)
    train = order[: int(len(order) * (1 - share))]
    cut = int(len(train) * (1 - share))
    inner_train, inner_test = train[:cut], train[cut:]
    scores = {}
    for learner in LEARNERS:
        predictions = _fit_predict(learner, data, inner_train, inner_test, seed)
        y = data.target[inner_test]
        scores[learner] = (
            round(float(roc_auc_score(y, predictions)), 4) if 0 < y.sum() < len(y) else 0.5
        )
    return scores


def evaluate_dataset(data: Dataset, *, folds: int = 5, seed: int = 7) -> dict[str, Any]:
    """Both learners by CV (and time holdout when a time order is known).

    The headline figures are the learner with the best cross-validated ROC AUC.
    For the time holdout the learner is chosen on a time split inside the
    training period; neither choice looks at the data it is scored on.
    """
    models: dict[str, Any] = {}
    for learner in LEARNERS:
        entry = {"cross_validation": cross_validate(data, learner, folds=folds, seed=seed)}
        if data.time is not None:
            entry["time_holdout"] = time_holdout(data, learner, seed=seed)
        models[learner] = entry
    best = max(LEARNERS, key=lambda name: models[name]["cross_validation"]["roc_auc"])
    chosen = models[best]["cross_validation"]
    report: dict[str, Any] = {
        "source": data.source,
        "rows": len(data.target),
        "positives": data.positives,
        "folds": folds,
        "seed": seed,
        "numeric": list(data.numeric),
        "categorical": list(data.categorical),
        "best_learner": best,
        "roc_auc": chosen["roc_auc"],
        "pr_auc": chosen["pr_auc"],
        "lift_top_decile": chosen["lift_top_decile"],
        "brier": chosen["brier"],
        "models": models,
    }
    if data.time is not None:
        validation = choose_for_time(data, seed=seed)
        for_time = max(LEARNERS, key=lambda name: validation[name])
        report["time_holdout"] = {
            "learner": for_time,
            "chosen_by": {"validation_roc_auc": validation},
            **models[for_time]["time_holdout"],
        }
    return report
