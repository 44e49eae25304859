"""Benchmark: train on 100,000 leads and score 1,000,000 leads with reasons.

Runs leadgate's own code paths (``fit_and_evaluate``: holdout check, logistic
comparison, calibrated final model; then what ``score_leads`` does: calibrated
probabilities for every lead, SHAP reasons for the 50,000 most likely) on a seeded synthetic
feature table shaped like ``build_features`` output, and a baseline in the same
process for a ratio: a plain default LightGBM fit, and a plain ``predict_proba``.

    .venv/bin/python bench/predictive.py [--train 100000] [--score 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from leadgate.predictive.features import CATEGORICAL
from leadgate.predictive.learners import BOOSTED_PARAMS
from leadgate.predictive.training import EXPLAIN_LIMIT, LoadedModel, fit_and_evaluate, top_factors

EVENT_TYPES = (
    "email.opened",
    "email.clicked",
    "email.unsubscribed",
    "page.viewed",
    "content.downloaded",
    "webinar.registered",
    "webinar.attended",
    "form.submitted",
    "ad.clicked",
    "demo.requested",
    "trial.started",
    "chat.started",
)
LEVELS = {
    "seniority": 7,
    "department": 7,
    "country": 12,
    "channel": 9,
    "campaign": 25,
    "industry": 10,
    "account_country": 12,
    "tier": 3,
}


def make_frame(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Features with the same columns as build_features, and an outcome that depends on them."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for column in CATEGORICAL:
        codes = rng.integers(0, LEVELS[column], rows)
        data[column] = pd.Categorical.from_codes(
            codes, [f"{column}-{i}" for i in range(LEVELS[column])]
        )
    intent = rng.beta(1.2, 5, rows)
    data["employees"] = np.exp(rng.normal(4.6, 1.3, rows)).round()
    data["annual_revenue"] = data["employees"] * rng.uniform(6e4, 2.2e5, rows)  # type: ignore[operator]
    data["lead_age_days"] = rng.uniform(0, 365, rows)
    data["free_mail"] = (rng.random(rows) < 0.14).astype(float)
    for event_type in EVENT_TYPES:
        rate = rng.uniform(0.2, 3.0) * intent
        for window in (7, 30, 90):
            data[f"{event_type}|count_{window}d"] = rng.poisson(rate * window / 30).astype(float)
        since = rng.exponential(40 / (0.2 + intent))
        since[rng.random(rows) < 0.4] = np.nan
        data[f"{event_type}|days_since_last"] = since
    data["pricing_views|count_30d"] = rng.poisson(2 * intent).astype(float)
    data["account_leads"] = rng.integers(1, 12, rows).astype(float)
    data["account_events_30d"] = rng.poisson(20 * intent).astype(float)
    frame = pd.DataFrame(data)
    logit = -4.2 + 6 * intent + 0.3 * (frame["seniority"].cat.codes < 2) - 0.8 * frame["free_mail"]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return frame, np.asarray(y)


@dataclass
class _Row:
    """Just enough of a stored model row for LoadedModel.calibrate."""

    name: str
    version: int
    calibration: dict[str, list[float]] | None


def timed(label: str, action: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:<58} {seconds:8.2f} s")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--score", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    frame, y = make_frame(args.train, args.seed)
    print(f"training rows {len(y):,}, positives {int(y.sum()):,}, features {frame.shape[1]}")
    base_fit, _ = timed(
        "baseline: one default LightGBM fit",
        lambda: lgb.LGBMClassifier(verbose=-1, random_state=args.seed).fit(frame, y),
    )
    fit_seconds, result = timed(
        "leadgate: holdout check + logistic + calibrated final fit",
        lambda: fit_and_evaluate(frame, y, seed=args.seed),
    )
    model, metrics = result  # type: ignore[misc]
    print(
        f"  held-out ROC AUC {metrics['holdout']['roc_auc']}, "
        f"ratio to baseline {fit_seconds / base_fit:.1f}x"
    )

    scoring, _ = make_frame(args.score, args.seed + 1)
    calibration = None
    if model.calibrator is not None:
        calibration = {
            "x": [float(v) for v in model.calibrator.X_thresholds_],
            "y": [float(v) for v in model.calibrator.y_thresholds_],
        }
    loaded = LoadedModel(
        row=_Row("bench", 1, calibration),  # type: ignore[arg-type]
        booster=lgb.Booster(model_str=model.classifier.booster_.model_to_string()),
        columns=list(frame.columns),
        event_types=EVENT_TYPES,
    )
    base_score, _ = timed(
        f"baseline: predict_proba on {args.score:,} leads",
        lambda: model.classifier.predict_proba(scoring),
    )
    predict_seconds, probabilities = timed(
        f"leadgate: calibrated probabilities for {args.score:,} leads",
        lambda: loaded.probabilities(scoring),
    )
    ranked = np.argsort(-probabilities, kind="stable")[:EXPLAIN_LIMIT]  # type: ignore[call-overload]
    explained = scoring.iloc[ranked]
    shap_seconds, contributions = timed(
        f"leadgate: SHAP for the {len(explained):,} most likely leads",
        lambda: loaded.contributions(explained),
    )
    factor_seconds, _ = timed(
        "leadgate: top 3 reasons up and down per explained lead",
        lambda: top_factors(list(frame.columns), explained, contributions),  # type: ignore[arg-type]
    )
    total = predict_seconds + shap_seconds + factor_seconds
    print(
        f"  scoring total {total:.1f} s ({args.score / total:,.0f} leads/s), "
        f"ratio to plain predict_proba {total / base_score:.1f}x"
    )
    print(
        f"  params: {BOOSTED_PARAMS['n_estimators']} trees, {BOOSTED_PARAMS['num_leaves']} leaves"
    )


if __name__ == "__main__":
    main()
