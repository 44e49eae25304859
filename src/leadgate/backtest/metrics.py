"""Score a set of would-be MQL dates against recorded outcomes (pure; no I/O).

Definitions (also in docs/backtesting.md):

* **MQLs**: leads whose *first* MQL day falls in the period; a lead that already
  qualified before the period is counted apart, never twice.
* **precision**: share of those MQLs that reached the outcome (at any time on record).
* **recall**: of the leads whose outcome happened in the period, the share that
  were MQL first (on or before the outcome's day).
* **lead time**: days from MQL to outcome, for MQLs that reached it afterwards.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from leadgate.backtest.outcomes import Outcome

__all__ = ["ModelScore", "Period", "score_mqls", "week_of"]


@dataclass(frozen=True)
class Period:
    """Whole UTC days, ``start`` to ``end`` inclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment.date() <= self.end

    @property
    def weeks(self) -> float:
        return ((self.end - self.start).days + 1) / 7


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass
class Rates:
    """MQLs, how many reached the outcome, and the outcome leads caught first."""

    mqls: int = 0
    reached: int = 0
    outcome_leads: int = 0
    caught: int = 0

    @property
    def precision(self) -> float | None:
        return self.reached / self.mqls if self.mqls else None

    @property
    def recall(self) -> float | None:
        return self.caught / self.outcome_leads if self.outcome_leads else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mqls": self.mqls,
            "reached_outcome": self.reached,
            "precision": _round(self.precision),
            "outcome_leads": self.outcome_leads,
            "mql_first": self.caught,
            "recall": _round(self.recall),
        }


@dataclass
class ModelScore:
    """A model's (or the record's) MQLs in the period against the outcome."""

    label: str
    period: Period
    totals: Rates = field(default_factory=Rates)
    before_period: int = 0
    outcome_before_mql: int = 0
    per_week: Counter[date] = field(default_factory=Counter)
    lead_times: list[float] = field(default_factory=list)
    #: the rates per value of the breakdown ``by`` (a report field, channel by default)
    by: str = "channel"
    by_group: dict[str, Rates] = field(default_factory=lambda: defaultdict(Rates))
    mql_leads: set[str] = field(default_factory=set)

    @property
    def mqls_per_week(self) -> float:
        return self.totals.mqls / self.period.weeks

    @property
    def median_lead_time_days(self) -> float | None:
        return statistics.median(self.lead_times) if self.lead_times else None

    def to_dict(self) -> dict[str, Any]:
        weeks = []
        monday = week_of(self.period.start)
        while monday <= self.period.end:
            weeks.append({"week": monday.isoformat(), "mqls": self.per_week.get(monday, 0)})
            monday += timedelta(days=7)
        groups = sorted(self.by_group.items(), key=lambda item: (-item[1].mqls, item[0]))
        return {
            "label": self.label,
            **self.totals.to_dict(),
            "mqls_per_week": round(self.mqls_per_week, 2),
            "qualified_before_period": self.before_period,
            "outcome_before_mql": self.outcome_before_mql,
            "median_days_mql_to_outcome": _round(self.median_lead_time_days, 1),
            "per_week": weeks,
            "by": self.by,
            f"by_{self.by}": {name: rates.to_dict() for name, rates in groups},
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def score_mqls(
    label: str,
    first_mql: Mapping[str, datetime],
    outcomes: Mapping[str, Outcome],
    groups: Mapping[str, str | None],
    period: Period,
    *,
    by: str = "channel",
) -> ModelScore:
    """Compare first-MQL instants with outcomes over ``period``; ``groups`` holds each
    lead's value of the breakdown ``by``."""
    result = ModelScore(label=label, period=period, by=by)
    for lead_id, at in first_mql.items():
        if at.date() < period.start:
            result.before_period += 1
            continue
        if not period.holds(at):
            continue
        group = groups.get(lead_id) or "(none)"
        result.mql_leads.add(lead_id)
        result.totals.mqls += 1
        result.by_group[group].mqls += 1
        result.per_week[week_of(at.date())] += 1
        outcome = outcomes.get(lead_id)
        if outcome is None:
            continue
        result.totals.reached += 1
        result.by_group[group].reached += 1
        if outcome.at is not None:
            if outcome.at.date() < at.date():
                result.outcome_before_mql += 1
            else:
                result.lead_times.append((outcome.at - at) / timedelta(days=1))
    for lead_id, outcome in outcomes.items():
        if outcome.at is None:
            # no date: counted in the period when the lead qualified in it, or never did
            mql_at = first_mql.get(lead_id)
            in_period = mql_at is None or period.holds(mql_at)
            caught = mql_at is not None and period.holds(mql_at)
        else:
            in_period = period.holds(outcome.at)
            mql_at = first_mql.get(lead_id)
            caught = mql_at is not None and mql_at.date() <= outcome.at.date()
        if not in_period:
            continue
        group = groups.get(lead_id) or "(none)"
        result.totals.outcome_leads += 1
        result.by_group[group].outcome_leads += 1
        if caught:
            result.totals.caught += 1
            result.by_group[group].caught += 1
    return result


def only_in(
    first: ModelScore,
    second_mql: Mapping[str, datetime],
    period: Period,
) -> list[str]:
    """Leads ``first`` passed to sales in the period that the other model had not by its end."""
    return sorted(
        lead_id
        for lead_id in first.mql_leads
        if lead_id not in second_mql or second_mql[lead_id].date() > period.end
    )


def describe_only(
    leads: Sequence[str], outcomes: Mapping[str, Outcome], emails: Mapping[str, str]
) -> dict[str, Any]:
    """Count, outcome rate and examples of a set of leads only one model passed."""
    reached = sum(1 for lead in leads if lead in outcomes)
    return {
        "leads": len(leads),
        "reached_outcome": reached,
        "precision": _round(reached / len(leads)) if leads else None,
        "examples": [emails.get(lead, lead) for lead in leads[:10]],
    }
