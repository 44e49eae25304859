"""The pure evaluator: model + lead + account + events + ``as_of`` -> Scorecard.

No I/O and no clock reads: the caller passes ``as_of``. Events after ``as_of``
are ignored, so the same call replays any point in the past; so are the lead's
score adjustments made after it (or revoked by then), which are added to their
group's score after its caps. Sums use
``math.fsum`` over a canonical order, so the input order of events never
changes a result, not even in the last bit.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from leadgate.scoring.checks_text import described, op_text, show
from leadgate.scoring.history import LeadHistory, age_days, rollup_sources, window_start
from leadgate.scoring.nodes import (
    AllOf,
    AnyOf,
    AttributeRule,
    Condition,
    EventOccurred,
    EventRule,
    FieldRef,
    GradeIn,
    NotOf,
    Predicate,
    PredictedTest,
    RollupGroup,
    RuleGroup,
    Scope,
    ScoreTest,
    ScoringModel,
)
from leadgate.scoring.predicates import (
    _compare_number,
    _lookup,
    test_predicate,
)
from leadgate.scoring.records import AccountRecord, EventRecord, LeadRecord
from leadgate.scoring.scorecard import (
    AdjustmentOutcome,
    CheckOutcome,
    EventContribution,
    RuleOutcome,
    Scorecard,
)

__all__ = [
    "Member",
    "decay_factor",
    "evaluate",
    "evaluate_account",
    "evaluate_histories",
    "event_matches",
    "record_matches",
    "test_predicate",
]

Member = tuple[LeadRecord, Sequence[EventRecord]]
_SECONDS_PER_DAY = 86_400.0


def decay_factor(age_days: float, half_life_days: float | None) -> float:
    """``0.5 ** (age / half_life)``; 1 when decay is off."""
    if half_life_days is None:
        return 1.0
    return float(0.5 ** (age_days / half_life_days))


def evaluate(
    model: ScoringModel,
    lead: LeadRecord,
    account: AccountRecord | None,
    events: Iterable[EventRecord],
    as_of: datetime,
    *,
    colleagues: Sequence[Member] = (),
) -> Scorecard:
    """Score one lead. ``colleagues`` (other leads of the account) feed rollup groups."""
    members: list[Member] = [(lead, list(events)), *colleagues]
    return evaluate_account(model, account, members, as_of)[0]


def evaluate_account(
    model: ScoringModel,
    account: AccountRecord | None,
    members: Sequence[Member],
    as_of: datetime,
) -> list[Scorecard]:
    """Score every lead of one account together (rollups need all of them)."""
    histories = [LeadHistory(model, lead, account, events) for lead, events in members]
    return evaluate_histories(model, histories, as_of)


def evaluate_histories(
    model: ScoringModel,
    histories: Sequence[LeadHistory],
    as_of: datetime,
    *,
    mates: Sequence[LeadHistory] = (),
) -> list[Scorecard]:
    """Score leads from their indexed histories (one account's leads together, for
    rollups). Events after ``as_of`` are ignored, as everywhere.

    ``mates`` are more leads of the account that get no scorecard: only the groups
    the roll-ups read are scored for them (:func:`rollup_sources`), so they may be
    indexed under that smaller model or given as :meth:`LeadHistory.counted`. The
    cards returned equal those of the same leads scored with the mates among
    ``histories``.
    """
    _require_aware(as_of)
    partials = [_Partial.build(model, history, as_of) for history in histories]
    if mates and model.rollup_groups:
        sources = rollup_sources(model)
        partials_of_mates = [_Partial.build(sources, mate, as_of, False) for mate in mates]
    else:
        partials_of_mates = []
    rollups: dict[str, float] = {}
    for group in model.rollup_groups:
        values = [partial.scores[group.source] for partial in (*partials, *partials_of_mates)]
        rollups[group.name] = _aggregate(group, values) if values else 0.0
    return [partial.finish(model, rollups) for partial in partials]


def _require_aware(as_of: datetime) -> None:
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must carry a time zone")


def _aggregate(group: RollupGroup, values: list[float]) -> float:
    if group.how == "max":
        return max(values)
    if group.how == "avg":
        return math.fsum(values) / len(values)
    return math.fsum(sorted(values))


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if high is not None and value > high:
        value = high
    if low is not None and value < low:
        value = low
    return value


_UNMATCHED: dict[int, tuple[EventRule, RuleOutcome]] = {}


def _unmatched(rule: EventRule) -> RuleOutcome:
    """The outcome of an event rule no event matches (immutable, so one per rule)."""
    known = _UNMATCHED.get(id(rule))
    if known is not None and known[0] is rule:
        return known[1]
    outcome = RuleOutcome(
        rule_id=rule.id,
        group=rule.group,
        kind="event",
        points=rule.points,
        contribution=0.0,
        matched=False,
        matched_count=0,
        events=(),
        description=rule.description,
    )
    if len(_UNMATCHED) > 4096:
        _UNMATCHED.clear()
    _UNMATCHED[id(rule)] = (rule, outcome)
    return outcome


class _Partial:
    """Rule-group scores of one lead before rollups, grades and the MQL verdict."""

    __slots__ = (
        "account",
        "as_of",
        "evidence",
        "history",
        "lead",
        "outcomes",
        "scores",
        "uncapped",
    )

    def __init__(
        self,
        lead: LeadRecord,
        account: AccountRecord | None,
        history: LeadHistory | None,
        as_of: datetime,
        evidence: bool = True,
    ) -> None:
        self.lead = lead
        #: False: the scores alone (an account mate's), no event shares to show
        self.evidence = evidence
        self.account = account
        self.history = history
        self.as_of = as_of
        self.scores: dict[str, float] = {}
        self.uncapped: dict[str, float] = {}
        self.outcomes: list[RuleOutcome] = []

    @classmethod
    def build(
        cls, model: ScoringModel, history: LeadHistory, as_of: datetime, evidence: bool = True
    ) -> _Partial:
        partial = cls(history.lead, history.account, history, as_of, evidence)
        for group in model.rule_groups:
            partial._score_group(group)
        return partial

    def _score_group(self, group: RuleGroup) -> None:
        contributions = []
        for rule in group.rules:
            if isinstance(rule, AttributeRule):
                outcome = self._attribute_rule(rule)
            else:
                outcome = self._event_rule(rule)
            self.outcomes.append(outcome)
            contributions.append(outcome.contribution)
        total = math.fsum(contributions)
        score = _clamp(total, group.min_points, group.max_points)
        if self.lead.adjustments:
            adjusted = self._adjustments(group)
            if adjusted:
                # after the caps: a person's override is never swallowed by them
                points = [outcome.points for outcome in adjusted]
                score = score + math.fsum(points)
                total = math.fsum([*contributions, *points])
                self.outcomes.extend(adjusted)
        self.uncapped[group.name] = total
        self.scores[group.name] = score

    def _adjustments(self, group: RuleGroup) -> list[AdjustmentOutcome]:
        """The lead's adjustments of ``group`` that count at ``as_of``, oldest first."""
        counted = [
            item
            for item in self.lead.adjustments
            if item.group == group.name and item.counts_at(self.as_of)
        ]
        counted.sort(key=lambda item: (item.at, item.id))
        return [
            AdjustmentOutcome(
                rule_id=f"adjustment:{item.id}",
                group=group.name,
                kind="adjustment",
                points=item.points,
                contribution=item.points,
                matched=True,
                matched_count=1,
                description=item.reason,
                actor=item.actor,
                at=item.at,
            )
            for item in counted
        ]

    def _attribute_rule(self, rule: AttributeRule) -> RuleOutcome:
        matched = _holds(rule.when, self, None)
        return RuleOutcome(
            rule_id=rule.id,
            group=rule.group,
            kind="attribute",
            points=rule.points,
            contribution=rule.points if matched else 0.0,
            matched=matched,
            description=rule.description,
        )

    def _event_rule(self, rule: EventRule) -> RuleOutcome:
        """The rule's matching events up to ``as_of`` within its window; the ``max_count``
        most recent count, each decayed by its age."""
        assert self.history is not None
        matches = self.history.rules[id(rule)]
        end = matches.until(self.as_of)
        start = 0
        if rule.within_days is not None:
            start = window_start(matches.ts, end, self.as_of, rule.within_days)
        take = end - start
        if take <= 0:
            return _unmatched(rule)
        if rule.max_count is not None:
            take = min(take, rule.max_count)
        # the hot loop of every scoring: locals, positional fields, one fsum
        as_of, points, half_life = self.as_of, rule.points, rule.half_life_days
        events = matches.events
        if not self.evidence:  # the same shares, summed the same way, not kept
            total = math.fsum(
                [
                    points * decay_factor(_age_days(as_of, events[index].ts), half_life)
                    for index in range(end - 1, end - 1 - take, -1)
                ]
            )
            return RuleOutcome(
                rule.id, rule.group, "event", points, total, True, end - start, (), rule.description
            )
        shares = []
        for index in range(end - 1, end - 1 - take, -1):
            event = events[index]
            age = _age_days(as_of, event.ts)
            shares.append(
                EventContribution(
                    event.id,
                    event.type,
                    event.ts,
                    round(age, 4),
                    points * decay_factor(age, half_life),
                )
            )
        return RuleOutcome(
            rule.id,
            rule.group,
            "event",
            points,
            math.fsum([share.points for share in shares]),
            bool(shares),
            end - start,
            tuple(shares),
            rule.description,
        )

    def finish(self, model: ScoringModel, rollups: Mapping[str, float]) -> Scorecard:
        scores: dict[str, float] = {}
        uncapped: dict[str, float] = {}
        for group in model.groups:
            if isinstance(group, RollupGroup):
                uncapped[group.name] = rollups[group.name]
                scores[group.name] = _clamp(rollups[group.name], group.min_points, group.max_points)
            else:
                uncapped[group.name] = self.uncapped[group.name]
                scores[group.name] = self.scores[group.name]
        grade = None if model.grades is None else model.grades.grade_for(scores[model.grades.group])
        checks: list[CheckOutcome] = []
        mql = False
        if model.mql is not None:
            context = _MqlContext(self, scores, grade, checks)
            mql = _holds(model.mql, self, None, context)
        return Scorecard(
            lead_id=self.lead.id,
            model_name=model.name,
            model_version=model.version,
            as_of=self.as_of,
            scores=scores,
            uncapped=uncapped,
            grade=grade,
            mql=mql,
            rules=tuple(self.outcomes),
            checks=tuple(checks),
            predicted=self.lead.predicted,
        )


def record_matches(
    cond: Condition, lead: LeadRecord, account: AccountRecord | None, as_of: datetime
) -> bool:
    """Whether a condition on the lead's and account's attributes holds (the meaning of
    an attribute rule's ``when``; playbooks use it to choose whom an action applies to)."""
    return _holds(cond, _Partial(lead, account, None, as_of), None)


def event_matches(where: Condition | None, history: LeadHistory, event: EventRecord) -> bool:
    """Whether an event passes a rule's ``where`` (which may also test lead and account)."""
    if where is None:
        return True
    return _holds(where, _Partial(history.lead, history.account, None, event.ts), event)


_age_days = age_days


class _MqlContext:
    __slots__ = ("checks", "grade", "partial", "scores")

    def __init__(
        self,
        partial: _Partial,
        scores: dict[str, float],
        grade: str | None,
        checks: list[CheckOutcome],
    ) -> None:
        self.partial = partial
        self.scores = scores
        self.grade = grade
        self.checks = checks


def _holds(
    cond: Condition,
    partial: _Partial,
    event: EventRecord | None,
    mql: _MqlContext | None = None,
) -> bool:
    """Evaluate a condition. Inside an MQL definition every leaf is traced (no short cut)."""
    if isinstance(cond, Predicate):
        value = _field_value(cond.field, partial, event)
        passed = test_predicate(cond, value)
        if mql is not None:
            mql.checks.append(CheckOutcome(described(cond), passed, show(value)))
        return passed
    if isinstance(cond, AllOf):
        results = [_holds(child, partial, event, mql) for child in cond.children]
        return all(results)
    if isinstance(cond, AnyOf):
        results = [_holds(child, partial, event, mql) for child in cond.children]
        return any(results)
    if isinstance(cond, NotOf):
        return not _holds(cond.child, partial, event, mql)
    if mql is None:
        raise TypeError(f"{type(cond).__name__} is only valid in an MQL definition")
    if isinstance(cond, ScoreTest):
        total = math.fsum(mql.scores[name] for name in cond.groups)
        passed = _compare_number(cond.op, total, cond.operand)
        mql.checks.append(CheckOutcome(described(cond), passed, f"{total:.1f}"))
        return passed
    if isinstance(cond, PredictedTest):
        probability = partial.lead.predicted
        passed = _compare_number(cond.op, probability, cond.operand)
        shown = "no prediction" if probability is None else f"{probability:.3f}"
        mql.checks.append(
            CheckOutcome(f"predicted {op_text(cond.op, cond.operand)}", passed, shown)
        )
        return passed
    if isinstance(cond, GradeIn):
        passed = mql.grade in cond.grades
        mql.checks.append(CheckOutcome(f"grade in {list(cond.grades)}", passed, str(mql.grade)))
        return passed
    if isinstance(cond, EventOccurred):
        count, latest = _count_occurrences(cond, partial)
        passed = count >= cond.min_count
        window = f" within {cond.within_days:g} days" if cond.within_days is not None else ""
        if cond.after:
            window += f" after {'/'.join(cond.after)}"
        need = f">= {cond.min_count} of " if cond.min_count > 1 else ""
        shown = f"{count} (latest {latest:.1f} days ago)" if latest is not None else "0"
        mql.checks.append(CheckOutcome(f"{need}{'/'.join(cond.types)}{window}", passed, shown))
        return passed
    raise TypeError(f"unknown condition node {type(cond).__name__}")


def _count_occurrences(cond: EventOccurred, partial: _Partial) -> tuple[int, float | None]:
    """Matching events up to ``as_of``, within the window and after the first ``after``
    event (exclusive); with the age of the newest."""
    assert partial.history is not None
    matches = partial.history.test(cond)
    end = matches.until(partial.as_of)
    start = 0
    if cond.after:
        first = partial.history.first_after(cond)
        if first is None or first > partial.as_of:
            return 0, None
        start = bisect_right(matches.ts, first, 0, end)
    if cond.within_days is not None:
        start = max(start, window_start(matches.ts, end, partial.as_of, cond.within_days))
    if end <= start:
        return 0, None
    return end - start, _age_days(partial.as_of, matches.ts[end - 1])


def _field_value(ref: FieldRef, partial: _Partial, event: EventRecord | None) -> Any:
    if ref.scope is Scope.EVENT:
        if event is None:
            raise TypeError(f"{ref.dotted} needs an event")
        if ref.key is not None:
            return _lookup(event.properties, ref.key)
        return getattr(event, ref.name)
    record: LeadRecord | AccountRecord | None = (
        partial.lead if ref.scope is Scope.LEAD else partial.account
    )
    if record is None:
        return None
    if ref.key is not None:
        return _lookup(record.attributes, ref.key)
    return getattr(record, ref.name)
