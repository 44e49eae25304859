"""Leakage report: which columns predict the outcome suspiciously well?

A column recorded after the outcome (a call's duration, a page value derived
from purchases) makes a model look brilliant and fail in production. For each
column we report its single-column ROC AUC and how much the cross-validated
AUC drops without it, and flag those above a line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from leadgate.predictive.dataset import Dataset
from leadgate.predictive.learners import fit_boosted

__all__ = ["leakage_report", "single_column_auc"]

_QUICK = {"n_estimators": 150, "learning_rate": 0.08}


def single_column_auc(data: Dataset, column: str, *, folds: int = 5, seed: int = 7) -> float:
    """ROC AUC of one column alone, direction-free (max of AUC and 1 - AUC).

    Numbers are ranked as they are (missing as the median); categories by their
    out-of-fold outcome rate, so a high-cardinality id cannot score by memorising.
    """
    y = data.target
    series = data.features[column]
    if column in data.numeric:
        values = series.astype("float64")
        scores = values.fillna(values.median() if values.notna().any() else 0.0).to_numpy()
    else:
        scores = np.zeros(len(y))
        text = series.astype(str).to_numpy()
        prior = float(y.mean())
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for train, test in splitter.split(text, y):
            frame = pd.DataFrame({"key": text[train], "y": y[train]})
            stats = frame.groupby("key")["y"].agg(["sum", "count"])
            rates = (stats["sum"] + 10 * prior) / (stats["count"] + 10)
            scores[test] = pd.Series(text[test]).map(rates).fillna(prior).to_numpy()
    if np.all(scores == scores[0]):
        return 0.5
    auc = float(roc_auc_score(y, scores))
    return max(auc, 1.0 - auc)


def _cv_auc(data: Dataset, columns: list[str], *, folds: int, seed: int) -> float:
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = np.zeros(len(data.target))
    frame = data.features[columns]
    for train, test in splitter.split(frame, data.target):
        model = fit_boosted(
            frame.iloc[train], data.target[train], seed=seed, calibrate=False, params=_QUICK
        )
        oof[test] = model.raw(frame.iloc[test])
    return float(roc_auc_score(data.target, oof))


def leakage_report(
    data: Dataset,
    *,
    line: float = 0.90,
    max_drop: float = 0.05,
    folds: int = 3,
    seed: int = 7,
) -> dict[str, Any]:
    """Per column: single-column AUC, CV AUC without it, the drop, and flags.

    ``flagged`` (single-column AUC >= ``line``) marks likely leaks: ``--strict``
    refuses to train with them. ``dominant`` (removing it costs >= ``max_drop``
    AUC) marks columns the model leans on heavily: check when they are recorded.
    """
    columns = list(data.features.columns)
    full = _cv_auc(data, columns, folds=folds, seed=seed)
    rows = []
    for column in columns:
        single = single_column_auc(data, column, seed=seed)
        rest = [c for c in columns if c != column]
        without = _cv_auc(data, rest, folds=folds, seed=seed) if rest else 0.5
        drop = full - without
        rows.append(
            {
                "column": column,
                "kind": "numeric" if column in data.numeric else "categorical",
                "single_auc": round(single, 4),
                "cv_auc_without": round(without, 4),
                "drop": round(drop, 4),
                "flagged": single >= line,
                "dominant": drop >= max_drop,
            }
        )
    rows.sort(key=lambda row: (-row["single_auc"], row["column"]))
    return {
        "cv_auc_all_columns": round(full, 4),
        "line": line,
        "max_drop": max_drop,
        "folds": folds,
        "columns": rows,
        "flagged": [row["column"] for row in rows if row["flagged"]],
        "dominant": [row["column"] for row in rows if row["dominant"]],
    }
