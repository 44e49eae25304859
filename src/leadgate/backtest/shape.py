"""How a model's verdict can move while a lead does nothing: the replay's shortcut.

Without new events, decay and windows only ever *lower* a positive score and
*end* an event window. When every part of the MQL definition can only turn from
true to false as time passes ("falling"), a lead can become an MQL only at the
end of a day on which it (or, with roll-ups, its account) did something, or on
the day it was created; the replay then checks those days and nothing else.
Anything that can rise with time alone (negative points that decay, ``lt`` tests
on a decaying score, ``not`` around an event window) makes every day a
candidate, and the replay says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from leadgate.exceptions import UnsupportedConstructError
from leadgate.scoring.nodes import (
    AllOf,
    AnyOf,
    AttributeRule,
    Condition,
    EventOccurred,
    GradeIn,
    NotOf,
    Op,
    Predicate,
    PredictedTest,
    RollupGroup,
    RuleGroup,
    ScoreTest,
    ScoringModel,
)

__all__ = ["ModelShape", "Trend", "condition_trend", "group_trend", "model_shape"]


class Trend(StrEnum):
    """Direction a value can take while the lead does nothing."""

    CONSTANT = "constant"
    FALLING = "falling"  # scores: never up; verdicts: only true -> false
    RISING = "rising"  # scores: never down; verdicts: only false -> true
    ANY = "any"


_FLIP = {
    Trend.CONSTANT: Trend.CONSTANT,
    Trend.FALLING: Trend.RISING,
    Trend.RISING: Trend.FALLING,
    Trend.ANY: Trend.ANY,
}


def _combine(trends: list[Trend]) -> Trend:
    moving = {trend for trend in trends if trend is not Trend.CONSTANT}
    if not moving:
        return Trend.CONSTANT
    if len(moving) == 1:
        return moving.pop()
    return Trend.ANY


def group_trend(model: ScoringModel, name: str) -> Trend:
    """Trend of one group's score (clamping keeps it; a roll-up follows its source)."""
    group = model.group(name)
    if isinstance(group, RollupGroup):
        return group_trend(model, group.source)
    assert isinstance(group, RuleGroup)
    trends = []
    for rule in group.rules:
        if isinstance(rule, AttributeRule):
            continue
        ages = rule.half_life_days is not None or rule.within_days is not None
        if not ages or rule.points == 0:
            continue
        trends.append(Trend.FALLING if rule.points > 0 else Trend.RISING)
    return _combine(trends)


def _score_trend(score: Trend, op: Op) -> Trend:
    if score is Trend.CONSTANT:
        return Trend.CONSTANT
    if op in (Op.GT, Op.GTE):
        return score
    if op in (Op.LT, Op.LTE):
        return _FLIP[score]
    return Trend.ANY  # eq, between: can enter and leave


def condition_trend(model: ScoringModel, cond: Condition) -> Trend:
    """Trend of a condition's truth while the lead does nothing."""
    if isinstance(cond, Predicate):
        return Trend.CONSTANT
    if isinstance(cond, ScoreTest):
        score = _combine([group_trend(model, name) for name in cond.groups])
        return _score_trend(score, cond.op)
    if isinstance(cond, GradeIn):
        grades = model.grades
        if grades is None:
            return Trend.CONSTANT
        score = group_trend(model, grades.group)
        labels = grades.labels  # best first
        chosen = [label in cond.grades for label in labels]
        if score is Trend.CONSTANT or all(chosen) or not any(chosen):
            return Trend.CONSTANT
        cut = chosen.index(False)
        if all(chosen[:cut]) and not any(chosen[cut:]):  # the best n grades: score >= bound
            return _score_trend(score, Op.GTE)
        cut = chosen.index(True)
        if not any(chosen[:cut]) and all(chosen[cut:]):  # the worst n grades: score < bound
            return _score_trend(score, Op.LT)
        return Trend.ANY
    if isinstance(cond, EventOccurred):
        return Trend.FALLING if cond.within_days is not None else Trend.CONSTANT
    if isinstance(cond, (AllOf, AnyOf)):
        return _combine([condition_trend(model, child) for child in cond.children])
    if isinstance(cond, NotOf):
        return _FLIP[condition_trend(model, cond.child)]
    if isinstance(cond, PredictedTest):
        raise UnsupportedConstructError(
            "mql: a 'predicted' test cannot be replayed point in time (predictions on "
            "record were made with later knowledge); backtest the rule-based part"
        )
    raise UnsupportedConstructError(f"mql: {type(cond).__name__} is not supported")


@dataclass(frozen=True)
class ModelShape:
    """What the replay needs to know about a model's MQL definition."""

    trend: Trend
    uses_account: bool  # a roll-up: account mates' activity moves the verdict

    @property
    def event_days_suffice(self) -> bool:
        """True when a lead can only qualify on a day it (or its account) was active."""
        return self.trend in (Trend.CONSTANT, Trend.FALLING)


def _groups_in(cond: Condition, model: ScoringModel) -> set[str]:
    if isinstance(cond, ScoreTest):
        return set(cond.groups)
    if isinstance(cond, GradeIn):
        return {model.grades.group} if model.grades is not None else set()
    if isinstance(cond, (AllOf, AnyOf)):
        return set().union(*(_groups_in(child, model) for child in cond.children))
    if isinstance(cond, NotOf):
        return _groups_in(cond.child, model)
    return set()


def model_shape(model: ScoringModel) -> ModelShape:
    """The trend of the MQL definition and whether roll-ups feed it."""
    if model.mql is None:
        raise UnsupportedConstructError(
            f"{model.label} has no MQL definition; there is nothing to backtest"
        )
    trend = condition_trend(model, model.mql)
    groups = _groups_in(model.mql, model)
    uses_account = any(isinstance(model.group(name), RollupGroup) for name in groups)
    return ModelShape(trend=trend, uses_account=uses_account)
