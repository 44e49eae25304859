"""Fit a readable points model from outcomes and write it in the scoring-model language.

The learner is an L1-regularised (sparse) logistic regression on features the
rule engine can express exactly: attribute values (fit rules) and event counts
in the last 30 days, capped (event rules with ``max_count`` and no decay), so
every event effect is monotone by construction. Coefficients become integer
points at 20 points per doubling of the odds, and the MQL threshold is set so
the chosen share of leads qualifies. The written model is then scored by the
rule engine itself on held-out leads and compared with the boosted model.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sqlalchemy.orm import Session

from leadgate.events.service import load_event_records
from leadgate.exceptions import LeadgateError
from leadgate.leads.models import Lead
from leadgate.predictive.features import build_features, outcome_labels
from leadgate.predictive.learners import fit_boosted
from leadgate.scoring import evaluate_account, load_model
from leadgate.scoring.nodes import ScoringModel

__all__ = ["POINTS_PER_DOUBLING", "ScorecardResult", "fit_scorecard"]

POINTS_PER_DOUBLING = 20.0
WINDOW_DAYS = 30
#: feature column -> (scope, field) of the rule engine
ATTRIBUTES = {
    "seniority": ("lead", "seniority"),
    "department": ("lead", "department"),
    "country": ("lead", "country"),
    "channel": ("lead", "channel"),
    "campaign": ("lead", "campaign"),
    "industry": ("account", "industry"),
    "account_country": ("account", "country"),
    "tier": ("account", "tier"),
}
NUMERIC = {"employees": ("account", "employees"), "annual_revenue": ("account", "annual_revenue")}


@dataclass(frozen=True)
class ScorecardResult:
    """The YAML text, the loaded model, and how it compares with the boosted model."""

    yaml_text: str
    model: ScoringModel
    threshold: int
    metrics: dict[str, Any]


@dataclass(frozen=True)
class _Column:
    name: str
    rule: dict[str, Any]
    group: str


def _design(
    frame: pd.DataFrame, event_types: tuple[str, ...]
) -> tuple[pd.DataFrame, list[_Column]]:
    """Expressible features: one indicator per attribute value / size band, capped event counts."""
    columns: dict[str, pd.Series] = {}
    specs: list[_Column] = []
    for feature, (scope, field) in ATTRIBUTES.items():
        values = frame[feature].astype(str)
        counts = values.value_counts()
        for value, count in counts.items():
            if value == "(missing)" or count < 20:
                continue
            name = f"{feature}={value}"
            columns[name] = (values == value).astype(float)
            specs.append(_Column(name, {"when": {f"{scope}.{field}": {"eq": value}}}, "fit"))
    for feature, (scope, field) in NUMERIC.items():
        series = frame[feature]
        known = series.dropna()
        if known.nunique() < 4:
            continue
        edges = sorted(set(np.quantile(known, [0.25, 0.5, 0.75]).round(0).tolist()))
        bounds = [-math.inf, *edges, math.inf]
        for low, high in itertools.pairwise(bounds):
            name = f"{feature} {low:g}..{high:g}"
            inside = (series > low) & (series <= high)
            columns[name] = inside.fillna(False).astype(float)
            condition: dict[str, Any] = {}
            if math.isinf(low):
                condition = {"lte": high}
            elif math.isinf(high):
                condition = {"gt": low}
            else:
                condition = {"gt": low, "lte": high}
            specs.append(_Column(name, {"when": {f"{scope}.{field}": condition}}, "fit"))
    for event_type in event_types:
        counts = frame[f"{event_type}|count_{WINDOW_DAYS}d"]
        nonzero = counts[counts > 0]
        if len(nonzero) < 20:
            continue
        cap = max(1, int(np.quantile(nonzero, 0.95)))
        name = f"{event_type} x{cap}"
        columns[name] = counts.clip(upper=cap)
        specs.append(
            _Column(
                name,
                {"event": event_type, "max_count": cap, "within_days": WINDOW_DAYS},
                "engagement",
            )
        )
    pricing = frame.get(f"pricing_views|count_{WINDOW_DAYS}d")
    if pricing is not None and (pricing > 0).sum() >= 20:
        cap = max(1, int(np.quantile(pricing[pricing > 0], 0.95)))
        columns[f"pricing x{cap}"] = pricing.clip(upper=cap)
        specs.append(
            _Column(
                f"pricing x{cap}",
                {
                    "event": "page.viewed",
                    "where": {"properties.url": {"contains": "/pricing"}},
                    "max_count": cap,
                    "within_days": WINDOW_DAYS,
                },
                "engagement",
            )
        )
    return pd.DataFrame(columns, index=frame.index), specs


#: Event types whose count may sensibly lower a score; every other event may only add points.
NEGATIVE_SIGNALS = ("unsubscribed", "bounced", "complained", "spam")


def _fit_monotone(
    design: pd.DataFrame, y: np.ndarray, specs: list[_Column], seed: int
) -> tuple[LogisticRegression, list[_Column]]:
    """Sparse (L1) logistic regression in which more engagement never costs points.

    An engagement feature that comes out negative (usually a collinear echo of a
    stronger one) is removed and the model refitted, until every remaining
    engagement coefficient is >= 0, except for events that signal disinterest.
    """
    kept = list(specs)
    while True:
        learner = LogisticRegression(
            l1_ratio=1.0, solver="liblinear", C=0.3, max_iter=2000, random_state=seed
        )
        learner.fit(design[[spec.name for spec in kept]], y)
        wrong = [
            spec
            for spec, coefficient in zip(kept, learner.coef_[0], strict=True)
            if spec.group == "engagement"
            and coefficient < 0
            and not any(word in spec.name for word in NEGATIVE_SIGNALS)
        ]
        if not wrong:
            return learner, kept
        kept = [spec for spec in kept if spec not in wrong]


def _rule_id(name: str, taken: set[str]) -> str:
    base = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name.lower()).strip("-.")
    base = base[:60] or "rule"
    candidate, index = base, 2
    while candidate in taken:
        candidate, index = f"{base}-{index}", index + 1
    taken.add(candidate)
    return candidate


def fit_scorecard(
    session: Session,
    *,
    outcome: str,
    as_of: datetime,
    until: datetime,
    mql_rate: float = 0.05,
    seed: int = 7,
    name: str = "learned-scorecard",
    version: int = 1,
) -> ScorecardResult:
    """Fit the scorecard on history, write it as a model, and check it in the rule engine."""
    if not 0 < mql_rate < 1:
        raise LeadgateError(
            "--mql-rate must be between 0 and 1 (the share of leads that should qualify)"
        )
    features = build_features(session, as_of=as_of)
    already, converted = outcome_labels(session, outcome=outcome, as_of=as_of, until=until)
    frame = features.frame.drop(index=[i for i in already if i in features.frame.index])
    y = frame.index.isin(list(converted)).astype(np.int8)
    if int(y.sum()) < 10:
        raise LeadgateError(
            f"only {int(y.sum())} leads reached {outcome} after {as_of:%Y-%m-%d}: too few to fit"
        )
    design, specs = _design(frame, features.event_types)
    train, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
    learner, kept = _fit_monotone(design.iloc[train], y[train], specs, seed)
    design, specs = design[[spec.name for spec in kept]], kept
    scale = POINTS_PER_DOUBLING / math.log(2)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    taken: set[str] = set()
    for spec, coefficient in zip(specs, learner.coef_[0], strict=True):
        points = round(float(coefficient) * scale)
        if points == 0:
            continue
        rule = {"id": _rule_id(spec.name, taken), **spec.rule, "points": int(points)}
        if spec.group == "engagement":
            rule["decay"] = "none"
        grouped[spec.group].append(rule)
    if not grouped:
        raise LeadgateError(
            "the sparse model kept no feature; there is too little signal to write a scorecard"
        )
    linear_scores = design @ np.array(
        [round(float(c) * scale) for c in learner.coef_[0]], dtype=float
    )
    threshold = math.ceil(float(np.quantile(linear_scores.iloc[train], 1 - mql_rate)))
    groups = {group: {"rules": rules} for group, rules in sorted(grouped.items())}
    document = {
        "version": version,
        "name": name,
        "description": (
            f"Learned from {len(y):,} leads ({int(y.sum())} reached {outcome} between "
            f"{as_of:%Y-%m-%d} and {until:%Y-%m-%d}); "
            f"{POINTS_PER_DOUBLING:g} points double the odds; "
            f"the threshold qualifies about {mql_rate:.0%} of leads."
        ),
        "groups": groups,
        "mql": {"score": sorted(groups), "gte": threshold},
    }
    header = (
        "# Written by `leadgate predict scorecard`: sparse logistic regression in points.\n"
        "# Edit freely; check with `leadgate model check` before switching to it.\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    model = load_model(text, file=f"<{name}>")
    engine_scores = _rule_engine_scores(session, model, [str(i) for i in frame.index[test]], as_of)
    boosted = fit_boosted(frame.iloc[train], y[train], seed=seed).predict(frame.iloc[test])
    y_test = y[test]
    metrics = {
        "rows": len(y),
        "positives": int(y.sum()),
        "rules": sum(len(rules) for rules in grouped.values()),
        "threshold": threshold,
        "holdout_roc_auc_boosted": round(float(roc_auc_score(y_test, boosted)), 4),
        "holdout_roc_auc_scorecard": round(float(roc_auc_score(y_test, engine_scores)), 4),
        "holdout_mql_share": round(float((engine_scores >= threshold).mean()), 4),
    }
    metrics["auc_given_up"] = round(
        metrics["holdout_roc_auc_boosted"] - metrics["holdout_roc_auc_scorecard"], 4
    )
    return ScorecardResult(yaml_text=text, model=model, threshold=threshold, metrics=metrics)


def _rule_engine_scores(
    session: Session, model: ScoringModel, lead_ids: list[str], as_of: datetime
) -> np.ndarray:
    """Score leads with the written model through the pure evaluator (the real rule engine)."""
    from leadgate.accounts.models import Account
    from leadgate.scorecards.service import account_record, lead_record

    events = load_event_records(session, lead_ids=lead_ids, until=as_of)
    totals = []
    groups = [group.name for group in model.rule_groups]
    for lead_id in lead_ids:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise LeadgateError(f"lead {lead_id} vanished while fitting")
        account = session.get(Account, lead.account_id) if lead.account_id else None
        card = evaluate_account(
            model,
            account_record(account) if account is not None else None,
            [(lead_record(lead), events.get(lead_id, []))],
            as_of,
        )[0]
        totals.append(sum(card.scores[group] for group in groups))
    return np.asarray(totals, dtype=float)
