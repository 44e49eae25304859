"""Property tests of the evaluator over random models and random event streams.

Models are drawn as plain specs, written out as YAML and loaded through the
real loader; the specs are kept so each property can compute what *should*
match with a small, independent oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leadgate.scoring import (
    EventRecord,
    LeadRecord,
    ScoringModel,
    evaluate,
    evaluate_account,
    load_model,
)
from leadgate.scoring.nodes import RuleGroup

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EVENT_TYPES = ("email.opened", "email.clicked", "page.viewed", "form.submitted")
CHANNELS = ("email", "web", "linkedin")
KINDS = ("a", "b", "c")
ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)))
DAY = 86_400

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


# -- specs and the oracle --------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """One event rule; ``where`` is ``("channel", name)``, ``("kind", names)`` or None."""

    id: str
    types: tuple[str, ...]
    points: float
    half_life: float | None
    max_count: int | None
    within: float | None
    where: tuple[str, Any] | None

    def to_yaml(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"id": self.id, "event": list(self.types), "points": self.points}
        if self.half_life is None:
            rule["decay"] = "none"
        else:
            rule["half_life_days"] = self.half_life
        if self.max_count is not None:
            rule["max_count"] = self.max_count
        if self.within is not None:
            rule["within_days"] = self.within
        if self.where is not None:
            field, value = self.where
            if field == "channel":
                rule["where"] = {"channel": value}
            else:
                rule["where"] = {"properties.kind": {"in": list(value)}}
        return rule

    def selects(self, event: EventRecord) -> bool:
        """Type and ``where`` match (ignoring time): the oracle's idea of "this rule matches"."""
        if event.type not in self.types:
            return False
        if self.where is None:
            return True
        field, value = self.where
        if field == "channel":
            return event.channel is not None and event.channel.casefold() == value.casefold()
        kind = event.properties.get("kind")
        return kind is not None and kind.casefold() in {v.casefold() for v in value}

    def counts(self, event: EventRecord, as_of: datetime) -> bool:
        """Matches at ``as_of``: selected, not in the future and inside the window."""
        if not self.selects(event) or event.ts > as_of:
            return False
        age = (as_of - event.ts).total_seconds() / DAY
        return self.within is None or age <= self.within


@dataclass(frozen=True)
class GroupSpec:
    name: str
    rules: tuple[RuleSpec, ...]
    country_points: float | None  # an attribute rule on lead.country: CZ
    max_points: float | None
    min_points: float | None


@dataclass(frozen=True)
class ModelSpec:
    groups: tuple[GroupSpec, ...]
    rollup: str | None  # aggregation of a rollup of the first group, if any
    model: ScoringModel

    def rules(self) -> dict[str, RuleSpec]:
        return {rule.id: rule for group in self.groups for rule in group.rules}


def model_yaml(groups: tuple[GroupSpec, ...], rollup: str | None, mql: Any) -> str:
    doc: dict[str, Any] = {"version": 1, "name": "random-model", "groups": {}}
    for group in groups:
        rules = [rule.to_yaml() for rule in group.rules]
        if group.country_points is not None:
            rules.append(
                {
                    "id": f"{group.name}-cz",
                    "when": {"lead.country": "CZ"},
                    "points": group.country_points,
                }
            )
        body: dict[str, Any] = {"rules": rules}
        if group.max_points is not None:
            body["max_points"] = group.max_points
        if group.min_points is not None:
            body["min_points"] = group.min_points
        doc["groups"][group.name] = body
    if rollup is not None:
        doc["groups"]["account"] = {
            "rollup": {"from": groups[0].name, "how": rollup},
            "max_points": 200,
        }
    if mql is not None:
        doc["mql"] = mql
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# -- strategies ---------------------------------------------------------------------------

small_floats = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)
mixed_points = st.one_of(st.integers(-50, 50).map(float), small_floats).filter(lambda p: p != 0)
positive_points = st.one_of(
    st.integers(1, 50).map(float),
    st.floats(min_value=1e-3, max_value=50, allow_nan=False, allow_infinity=False),
)
half_lives = st.floats(min_value=0.5, max_value=120, allow_nan=False, allow_infinity=False)


@st.composite
def rule_specs(
    draw: st.DrawFn,
    rule_id: str,
    points: st.SearchStrategy[float],
    decay: str,
    windows: bool,
) -> RuleSpec:
    """``decay`` is ``"any"``, ``"always"`` or ``"never"``."""
    types = draw(st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2, unique=True))
    if decay == "always":
        half_life: float | None = draw(half_lives)
    elif decay == "never":
        half_life = None
    else:
        half_life = draw(st.none() | half_lives)
    where = draw(
        st.none()
        | st.tuples(st.just("channel"), st.sampled_from(CHANNELS))
        | st.tuples(
            st.just("kind"),
            st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True).map(tuple),
        )
    )
    return RuleSpec(
        id=rule_id,
        types=tuple(types),
        points=draw(points),
        half_life=half_life,
        max_count=draw(st.none() | st.integers(1, 4)),
        within=draw(st.floats(min_value=1, max_value=400))
        if windows and draw(st.booleans())
        else None,
        where=where,
    )


@st.composite
def model_specs(
    draw: st.DrawFn,
    *,
    points: st.SearchStrategy[float] = mixed_points,
    decay: str = "any",
    caps: bool = True,
    windows: bool = True,
) -> ModelSpec:
    groups = []
    for g in range(draw(st.integers(1, 3))):
        name = f"g{g}"
        rules = tuple(
            draw(rule_specs(f"{name}-r{i}", points, decay, windows))
            for i in range(draw(st.integers(1, 4)))
        )
        max_points = min_points = None
        if caps:
            max_points = draw(st.none() | st.integers(-20, 120).map(float))
            min_points = draw(st.none() | st.integers(-120, 20).map(float))
            if max_points is not None and min_points is not None and min_points > max_points:
                min_points, max_points = max_points, min_points
        groups.append(
            GroupSpec(
                name=name,
                rules=rules,
                country_points=draw(st.none() | points),
                max_points=max_points,
                min_points=min_points,
            )
        )
    rollup = draw(st.none() | st.sampled_from(["sum", "max", "avg"]))
    mql = draw(
        st.none()
        | st.builds(
            lambda threshold, types, within: {
                "any": [
                    {"score": groups[0].name, "gte": threshold},
                    {"any_event": list(types), "within_days": within, "min_count": 2},
                ]
            },
            st.integers(-20, 80),
            st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=3, unique=True),
            st.integers(1, 90),
        )
    )
    text = model_yaml(tuple(groups), rollup, mql)
    return ModelSpec(groups=tuple(groups), rollup=rollup, model=load_model(text))


@st.composite
def event_lists(
    draw: st.DrawFn, *, prefix: str = "e", max_size: int = 14, future: bool = True
) -> list[EventRecord]:
    """Random events with unique ids, up to 400 days old (and a few in the future)."""
    latest = 5 * DAY if future else 0
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(EVENT_TYPES),
                # whole days make equal timestamps (ties) likely; seconds make them rare
                st.integers(-400 * DAY, latest) | st.integers(-400, latest // DAY).map(DAY.__mul__),
                st.none() | st.sampled_from([*CHANNELS, "Web", "LinkedIn"]),
                st.none() | st.sampled_from([*KINDS, "A"]),
                st.sampled_from(ZONES),
            ),
            max_size=max_size,
        )
    )
    events = []
    for index, (type_, offset, channel, kind, zone) in enumerate(specs):
        ts = (AS_OF + timedelta(seconds=offset)).astimezone(zone)
        properties = {} if kind is None else {"kind": kind}
        events.append(
            EventRecord(
                id=f"{prefix}{index:02d}", type=type_, ts=ts, properties=properties, channel=channel
            )
        )
    return events


leads = st.builds(LeadRecord, id=st.just("lead"), country=st.sampled_from([None, "CZ", "cz", "DE"]))


def rule_group_scores(spec: ModelSpec, card: Any) -> dict[str, float]:
    return {group.name: card.scores[group.name] for group in spec.groups}


# -- (i) order never matters ------------------------------------------------------------


@PROPERTY_SETTINGS
@given(spec=model_specs(), lead=leads, events=event_lists(), data=st.data())
def test_event_order_never_changes_the_result(
    spec: ModelSpec, lead: LeadRecord, events: list[EventRecord], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    first = evaluate(spec.model, lead, None, events, AS_OF).to_dict()
    second = evaluate(spec.model, lead, None, shuffled, AS_OF).to_dict()
    assert first == second
    assert evaluate(spec.model, lead, None, events[::-1], AS_OF).to_dict() == first


# -- (ii) a positive event never lowers a score ---------------------------------------------


@PROPERTY_SETTINGS
@given(
    spec=model_specs(),
    lead=leads,
    events=event_lists(),
    extra=event_lists(prefix="new", max_size=1).filter(bool).map(lambda events: events[0]),
)
def test_an_event_matching_only_positive_rules_never_lowers_a_score(
    spec: ModelSpec, lead: LeadRecord, events: list[EventRecord], extra: EventRecord
) -> None:
    touched = [rule for rule in spec.rules().values() if rule.selects(extra)]
    assume(all(rule.points > 0 for rule in touched))
    before = evaluate(spec.model, lead, None, events, AS_OF)
    after = evaluate(spec.model, lead, None, [*events, extra], AS_OF)
    for name in spec.model.group_names:
        assert after.scores[name] >= before.scores[name], name
        assert after.uncapped[name] >= before.uncapped[name], name
    for old, new in zip(before.rules, after.rules, strict=True):
        assert new.contribution >= old.contribution, old.rule_id


# -- (iii) without new events, decaying positive scores never rise -----------------------------


@PROPERTY_SETTINGS
@given(
    spec=model_specs(points=positive_points, caps=False),
    lead=leads,
    events=event_lists(future=False),
    later=st.integers(0, 500 * DAY),
)
def test_positive_scores_never_rise_as_time_passes(
    spec: ModelSpec, lead: LeadRecord, events: list[EventRecord], later: int
) -> None:
    as_of_later = AS_OF + timedelta(seconds=later)
    now = evaluate(spec.model, lead, None, events, AS_OF)
    then = evaluate(spec.model, lead, None, events, as_of_later)
    for name in spec.model.group_names:
        assert then.scores[name] <= now.scores[name], name
    rules = spec.rules()
    for early, late in zip(now.rules, then.rules, strict=True):
        assert late.contribution <= early.contribution, early.rule_id
        rule = rules.get(early.rule_id)
        if rule is not None and rule.half_life is None and rule.within is None:
            # decay: none and no window: the same events, the same points, forever
            assert late.contribution == early.contribution, early.rule_id
        decays = rule is not None and rule.half_life is not None and later >= DAY
        if decays and late.matched and early.contribution > 1e-200:
            # real decay: strictly less once a day has passed (while points remain)
            assert late.contribution < early.contribution, early.rule_id


@PROPERTY_SETTINGS
@given(
    spec=model_specs(points=positive_points, decay="never", caps=False, windows=False),
    lead=leads,
    events=event_lists(future=False),
    later=st.integers(0, 5000 * DAY),
)
def test_without_decay_or_windows_scores_stay_constant(
    spec: ModelSpec, lead: LeadRecord, events: list[EventRecord], later: int
) -> None:
    now = evaluate(spec.model, lead, None, events, AS_OF)
    then = evaluate(spec.model, lead, None, events, AS_OF + timedelta(seconds=later))
    assert then.scores == now.scores
    assert [r.contribution for r in then.rules] == [r.contribution for r in now.rules]


# -- (iv) caps always hold -------------------------------------------------------------------


def clamp(value: float, low: float | None, high: float | None) -> float:
    if high is not None:
        value = min(value, high)
    if low is not None:
        value = max(value, low)
    return value


@PROPERTY_SETTINGS
@given(
    spec=model_specs(),
    members=st.lists(st.tuples(leads, event_lists()), min_size=1, max_size=3),
)
def test_caps_always_hold(spec: ModelSpec, members: list[tuple[LeadRecord, Any]]) -> None:
    members = [
        (LeadRecord(id=f"lead{i}", country=lead.country), events)
        for i, (lead, events) in enumerate(members)
    ]
    cards = evaluate_account(spec.model, None, members, AS_OF)
    assert len(cards) == len(members)
    for card in cards:
        for group in spec.model.groups:
            score = card.scores[group.name]
            if group.max_points is not None:
                assert score <= group.max_points, group.name
            if group.min_points is not None:
                assert score >= group.min_points, group.name
            assert score == clamp(card.uncapped[group.name], group.min_points, group.max_points)
            if isinstance(group, RuleGroup):
                parts = [r.contribution for r in card.rules if r.group == group.name]
                assert card.uncapped[group.name] == math.fsum(parts)
    if spec.rollup is not None:
        sources = [card.scores[spec.groups[0].name] for card in cards]
        expected = {
            "sum": math.fsum(sources),
            "max": max(sources),
            "avg": math.fsum(sources) / len(sources),
        }[spec.rollup]
        assert {card.uncapped["account"] for card in cards} == {expected}


# -- (v) max_count ---------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(spec=model_specs(), lead=leads, events=event_lists(max_size=20))
def test_max_count_counts_only_the_most_recent_matching_events(
    spec: ModelSpec, lead: LeadRecord, events: list[EventRecord]
) -> None:
    card = evaluate(spec.model, lead, None, events, AS_OF)
    rules = spec.rules()
    for outcome in card.rules:
        rule = rules.get(outcome.rule_id)
        if rule is None:  # the attribute rule
            continue
        matching = sorted(
            (event for event in events if rule.counts(event, AS_OF)),
            key=lambda event: (event.ts, event.id),
            reverse=True,
        )
        assert outcome.matched_count == len(matching), rule.id
        limit = len(matching) if rule.max_count is None else rule.max_count
        assert len(outcome.events) <= limit
        assert len(outcome.events) == min(limit, len(matching))
        assert [share.event_id for share in outcome.events] == [e.id for e in matching[:limit]]
        assert outcome.contribution == math.fsum(share.points for share in outcome.events)


# -- (vi) the JSON the request path stores is the breakdown -------------------------------------


@PROPERTY_SETTINGS
@given(spec=model_specs(), lead=leads, events=event_lists())
def test_the_stored_json_reads_back_as_the_breakdown(
    spec: ModelSpec, lead: LeadRecord, events: list[EventRecord]
) -> None:
    """``to_json`` (orjson straight from the dataclasses, what the scorecard upsert
    writes) holds exactly the data of ``to_dict`` (what the API answers)."""
    card = evaluate(spec.model, lead, None, events, AS_OF)
    assert orjson.loads(card.to_json()) == card.to_dict()
