"""What an evaluation returns: scores, grade, MQL verdict, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

__all__ = ["AdjustmentOutcome", "CheckOutcome", "EventContribution", "RuleOutcome", "Scorecard"]

# The result classes are frozen but keep their ``__dict__`` (no ``slots``): orjson
# writes a dataclass with a ``__dict__`` 2.5x as fast as one with slots, and the
# request path writes a scorecard for every lead an event touches.


@dataclass(frozen=True)
class EventContribution:
    """One event's share of a rule's points after decay (``age_days`` rounded to 4
    decimals, about 9 seconds, as shown; ``points`` come from the exact age)."""

    event_id: str
    type: str
    ts: datetime
    age_days: float
    points: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "ts": self.ts.isoformat(),
            "age_days": self.age_days,
            "points": self.points,
        }


@dataclass(frozen=True)
class RuleOutcome:
    """A rule's contribution to its group and the evidence behind it.

    ``matched_count`` counts every matching event; ``events`` holds only those
    that counted (the ``max_count`` most recent).
    """

    rule_id: str
    group: str
    kind: str
    points: float
    contribution: float
    matched: bool
    matched_count: int = 0
    events: tuple[EventContribution, ...] = ()
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "group": self.group,
            "kind": self.kind,
            "points": self.points,
            "contribution": self.contribution,
            "matched": self.matched,
            "matched_count": self.matched_count,
            "events": [event.to_dict() for event in self.events],
            "description": self.description,
        }


@dataclass(frozen=True)
class AdjustmentOutcome(RuleOutcome):
    """A person's score adjustment as a line of the breakdown: ``rule_id`` is
    ``adjustment:<id>``, ``kind`` is ``adjustment``, the reason is the description,
    and ``contribution`` its points (added after the group's caps)."""

    actor: str | None = None
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "actor": self.actor,
            "at": None if self.at is None else self.at.isoformat(),
        }


@dataclass(frozen=True)
class CheckOutcome:
    """One leaf of the MQL definition with the value it saw."""

    check: str
    passed: bool
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "value": self.value}


@dataclass(frozen=True)
class Scorecard:
    """The full result of evaluating one lead against one model at one instant."""

    lead_id: str
    model_name: str
    model_version: int
    as_of: datetime
    #: per group: its rules' total clamped to the group's caps, plus its adjustments
    scores: dict[str, float]
    #: per group: the sum of every line of the breakdown (rules and adjustments), no caps
    uncapped: dict[str, float]
    grade: str | None
    mql: bool
    rules: tuple[RuleOutcome, ...]
    checks: tuple[CheckOutcome, ...]
    #: the lead's predicted probability the evaluation saw (an input, recorded so a
    #: recomputation at the same instant uses the same one; None: none on record)
    predicted: float | None = None

    @property
    def model_label(self) -> str:
        return f"{self.model_name}@v{self.model_version}"

    def top_rules(self, limit: int = 3) -> list[RuleOutcome]:
        """The rules that moved the score most, largest absolute contribution first."""
        active = [rule for rule in self.rules if rule.matched and rule.contribution != 0]
        active.sort(key=lambda rule: (-abs(rule.contribution), rule.rule_id))
        return active[:limit]

    def reasons(self, limit: int = 3) -> str:
        """A one-line human summary: the strongest rules with their points."""
        parts = [f"{rule.rule_id} {rule.contribution:+.1f}" for rule in self.top_rules(limit)]
        return ", ".join(parts) if parts else "no rule matched"

    def verdict(self) -> str:
        """The deciding MQL checks and their values, in one line."""
        return "; ".join(
            f"{check.check} = {check.value} ({'yes' if check.passed else 'no'})"
            for check in self.checks
        )

    def to_dict(self) -> dict[str, Any]:
        """The breakdown as plain data (the REST and CLI answers)."""
        return {
            "lead_id": self.lead_id,
            "model": self.model_label,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "as_of": self.as_of.isoformat(),
            "scores": dict(self.scores),
            "uncapped": dict(self.uncapped),
            "grade": self.grade,
            "mql": self.mql,
            "rules": [rule.to_dict() for rule in self.rules],
            "checks": [check.to_dict() for check in self.checks],
            "predicted": self.predicted,
        }

    def counted_json(self) -> bytes:
        """Each event rule's matched count and the events it counted (time, id, type)
        as compact JSON, ``{rule_id: [matched_count, [[ts, id, type], ...]]}``: all a
        later read needs to score the lead again at a later instant without its
        history (:meth:`leadgate.scoring.history.LeadHistory.counted`), a fraction of
        the breakdown's size."""
        return orjson.dumps(
            {
                rule.rule_id: [
                    rule.matched_count,
                    [(event.ts, event.event_id, event.type) for event in rule.events],
                ]
                for rule in self.rules
                if rule.kind == "event"
            }
        )

    def to_json(self) -> bytes:
        """:meth:`to_dict` as JSON, written by orjson straight from the dataclasses.

        The request path stores a scorecard for every lead an event touches; building
        the dicts first cost as much as scoring. The fields are declared so the
        output is the same data as :meth:`to_dict` (a test holds the two together);
        only the model label is not a field and is put first here.
        """
        body = orjson.dumps(self)
        return b'{"model":' + orjson.dumps(self.model_label) + b"," + body[1:]
