"""Ranking and calibration metrics for binary outcomes."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = ["calibration_table", "lift_top_decile", "summarize"]


def lift_top_decile(y: np.ndarray, p: np.ndarray) -> float:
    """Outcome rate among the 10 % highest-scored, divided by the overall rate."""
    count = max(1, int(np.ceil(len(p) * 0.1)))
    order = np.argsort(-p, kind="stable")[:count]
    base = float(y.mean())
    return float(y[order].mean() / base) if base > 0 else float("nan")


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted vs observed rate per equal-count bin of the predictions."""
    order = np.argsort(p, kind="stable")
    rows = []
    for chunk in np.array_split(order, bins):
        if len(chunk) == 0:
            continue
        rows.append(
            {
                "count": len(chunk),
                "predicted": round(float(p[chunk].mean()), 4),
                "observed": round(float(y[chunk].mean()), 4),
            }
        )
    return rows


def summarize(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """ROC AUC, PR AUC, lift in the top decile, Brier score and calibration."""
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "lift_top_decile": round(lift_top_decile(y, p), 3),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "positives": int(y.sum()),
        "rows": len(y),
        "calibration": calibration_table(y, p),
    }
