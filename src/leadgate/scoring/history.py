"""A lead's events indexed for one model, so scoring at any instant reads slices.

For every event rule and every ``event`` test of the MQL definition, the index
keeps the events that match it (type and ``where``), in ``(ts, id)`` order.
Matching does not depend on the instant, so the index is built once and
extended event by event (:meth:`LeadHistory.add`); scoring as of ``as_of``
then only cuts each list at ``as_of`` and at the rule's window (binary
searches) and reads the counted events. The evaluator always scores through
this index: the request path, which keeps a lead's index between events, and
a one-off evaluation over a full history run the same code.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from leadgate.scoring.nodes import (
    AllOf,
    AnyOf,
    Condition,
    EventOccurred,
    EventRule,
    NotOf,
    ScoringModel,
)
from leadgate.scoring.records import AccountRecord, EventRecord, LeadRecord

__all__ = ["LeadHistory", "Matches", "age_days", "rollup_sources", "window_start"]

_SECONDS_PER_DAY = 86_400.0


def age_days(as_of: datetime, ts: datetime) -> float:
    """How many days before ``as_of`` an event happened (negative after it)."""
    return (as_of - ts).total_seconds() / _SECONDS_PER_DAY


def window_start(ts: list[datetime], end: int, as_of: datetime, within_days: float) -> int:
    """The first index below ``end`` whose event is at most ``within_days`` old.

    The age test itself is bisected (it falls as ``ts`` rises), so the cut is
    exactly the one a scan applying the test to every event would make.
    """
    low, high = 0, end
    while low < high:
        middle = (low + high) // 2
        if age_days(as_of, ts[middle]) > within_days:
            low = middle + 1
        else:
            high = middle
    return low


class Matches:
    """Events matching one rule or test, in ``(ts, id)`` order; ``ts`` mirrors them."""

    __slots__ = ("events", "keys", "ts")

    def __init__(self) -> None:
        self.events: list[EventRecord] = []
        self.keys: list[tuple[datetime, str]] = []
        self.ts: list[datetime] = []

    def insert(self, event: EventRecord) -> None:
        key = (event.ts, event.id)
        if not self.keys or key > self.keys[-1]:  # the usual case: the newest event
            self.keys.append(key)
            self.ts.append(event.ts)
            self.events.append(event)
            return
        position = bisect_right(self.keys, key)
        self.keys.insert(position, key)
        self.ts.insert(position, event.ts)
        self.events.insert(position, event)

    def until(self, as_of: datetime) -> int:
        """How many matched events happened at or before ``as_of``."""
        if not self.ts or self.ts[-1] <= as_of:
            return len(self.ts)
        return bisect_right(self.ts, as_of)

    def __len__(self) -> int:
        return len(self.events)


@dataclass(frozen=True)
class _Plan:
    """What a model asks of events: its event rules and the event tests of its MQL."""

    rules: tuple[EventRule, ...]
    tests: tuple[EventOccurred, ...]
    types: frozenset[str]


_PLANS: dict[int, tuple[ScoringModel, _Plan]] = {}


def _walk(cond: Condition | None) -> Iterator[EventOccurred]:
    if isinstance(cond, EventOccurred):
        yield cond
    elif isinstance(cond, (AllOf, AnyOf)):
        for child in cond.children:
            yield from _walk(child)
    elif isinstance(cond, NotOf):
        yield from _walk(cond.child)


_SOURCES: dict[int, tuple[ScoringModel, ScoringModel]] = {}


def rollup_sources(model: ScoringModel) -> ScoringModel:
    """The model cut down to the rule groups its roll-ups read (no roll-ups, grades
    or MQL definition): all an account mate is scored on when only another lead's
    scorecard is wanted. The groups are the model's own objects, so a history
    indexed under either model serves both; one object per model (the plans are
    cached by identity)."""
    cached = _SOURCES.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    read = {group.source for group in model.rollup_groups}
    sources = ScoringModel(
        name=model.name,
        version=model.version,
        groups=tuple(group for group in model.rule_groups if group.name in read),
        lists=model.lists,
    )
    if len(_SOURCES) > 64:
        _SOURCES.clear()
    _SOURCES[id(model)] = (model, sources)
    return sources


def _plan(model: ScoringModel) -> _Plan:
    cached = _PLANS.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    rules = tuple(
        rule for group in model.rule_groups for rule in group.rules if isinstance(rule, EventRule)
    )
    tests = tuple(_walk(model.mql))
    types = frozenset(
        [
            *(kind for rule in rules for kind in rule.event_types),
            *(kind for test in tests for kind in (*test.types, *test.after)),
        ]
    )
    plan = _Plan(rules, tests, types)
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[id(model)] = (model, plan)
    return plan


class LeadHistory:
    """One lead's events as the model sees them (see the module docstring).

    ``lead`` and ``account`` are part of the index: a ``where`` may test their
    fields, so a changed lead or account needs a new history.
    """

    __slots__ = ("account", "firsts", "lead", "model", "rules", "size", "tests")

    def __init__(
        self,
        model: ScoringModel,
        lead: LeadRecord,
        account: AccountRecord | None,
        events: Iterable[EventRecord] = (),
    ) -> None:
        plan = _plan(model)
        self.model = model
        self.lead = lead
        self.account = account
        self.rules: dict[int, Matches] = {id(rule): Matches() for rule in plan.rules}
        self.tests: dict[int, Matches] = {id(test): Matches() for test in plan.tests}
        #: per event test with ``after``: the earliest instant of an ``after`` event
        self.firsts: dict[int, datetime | None] = {id(test): None for test in plan.tests}
        self.size = 0
        self.add(sorted(events, key=lambda event: (event.ts, event.id)))

    @classmethod
    def counted(
        cls,
        model: ScoringModel,
        lead: LeadRecord,
        account: AccountRecord | None,
        counted: Mapping[str, Iterable[EventRecord]],
    ) -> LeadHistory:
        """A history of only the events a scorecard counted, by rule id.

        Scored at the card's instant or any later one, provided the lead got no
        event dated in between, each rule counts what its full history would: the
        counted events are the rule's most recent matches within its window, and a
        later window only drops the oldest of them. ``model`` must have no event
        tests (its MQL definition's), which such a history cannot answer: use
        :func:`rollup_sources`.
        """
        if any(True for _ in _walk(model.mql)):
            raise ValueError("a counted history cannot answer the MQL definition's event tests")
        history = cls(model, lead, account)
        rules = {rule.id: rule for rule in _plan(model).rules}
        for rule_id, events in counted.items():
            rule = rules.get(rule_id)
            if rule is None:
                raise ValueError(f"rule {rule_id!r} is not an event rule of {model.label}")
            matches = history.rules[id(rule)]
            for event in sorted(events, key=lambda event: (event.ts, event.id)):
                matches.insert(event)  # oldest first, so each one appends
                history.size += 1
        return history

    def add(self, events: Iterable[EventRecord]) -> None:
        """Index more events (each id once: the caller stores events idempotently)."""
        from leadgate.scoring.evaluator import event_matches  # the evaluator imports us

        plan = _plan(self.model)
        types, rules, tests = plan.types, self.rules, self.tests
        for event in events:
            self.size += 1
            kind = event.type
            if kind not in types:
                continue
            for rule in plan.rules:
                if kind in rule.event_types and (
                    rule.where is None or event_matches(rule.where, self, event)
                ):
                    rules[id(rule)].insert(event)
            for test in plan.tests:
                if kind in test.types and (
                    test.where is None or event_matches(test.where, self, event)
                ):
                    tests[id(test)].insert(event)
                if kind in test.after:
                    first = self.firsts[id(test)]
                    if first is None or event.ts < first:
                        self.firsts[id(test)] = event.ts

    def rule(self, rule: EventRule) -> Matches:
        return self.rules[id(rule)]

    def test(self, test: EventOccurred) -> Matches:
        return self.tests[id(test)]

    def first_after(self, test: EventOccurred) -> datetime | None:
        return self.firsts[id(test)]
