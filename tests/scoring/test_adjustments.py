"""Manual score adjustments in the pure evaluator: from their instant, until their
revocation, after the group's caps, as their own line of the breakdown."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.scoring import (
    Adjustment,
    EventRecord,
    LeadRecord,
    ScoringModel,
    evaluate,
    evaluate_account,
    load_model,
)
from leadgate.scoring.nodes import RollupGroup
from leadgate.scoring.scorecard import AdjustmentOutcome
from tests.scoring.test_properties import ModelSpec, clamp, event_lists, leads, model_specs

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)

MODEL = load_model(
    """
version: 1
name: adjusted
groups:
  fit:
    max_points: 30
    min_points: 0
    rules:
      - {id: cz, when: {lead.country: CZ}, points: 40}
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 10, decay: none}
  team:
    rollup: {from: engagement, how: sum}
grades: {A: 40, B: 20}
mql: {score: engagement, gte: 30}
"""
)


def _lead(*adjustments: Adjustment, lead_id: str = "l1", country: str = "CZ") -> LeadRecord:
    return LeadRecord(id=lead_id, country=country, account_id="acc", adjustments=adjustments)


def _adjust(
    points: float,
    group: str = "engagement",
    *,
    at: datetime = AS_OF - timedelta(days=1),
    revoked_at: datetime | None = None,
    number: str = "1",
) -> Adjustment:
    return Adjustment(
        id=number,
        group=group,
        points=points,
        at=at,
        revoked_at=revoked_at,
        reason="met them at the trade fair",
        actor="user:rita@t.example",
    )


class TestAdjustmentRecord:
    def test_it_counts_from_its_instant_until_its_revocation(self) -> None:
        item = _adjust(5, at=AS_OF, revoked_at=AS_OF + timedelta(days=2))
        assert not item.counts_at(AS_OF - US)
        assert item.counts_at(AS_OF)
        assert item.counts_at(AS_OF + timedelta(days=2) - US)
        assert not item.counts_at(AS_OF + timedelta(days=2))

    def test_a_naive_instant_is_refused(self) -> None:
        with pytest.raises(ValueError, match="has no time zone"):
            _adjust(5, at=datetime(2025, 6, 1))
        with pytest.raises(ValueError, match="has no time zone"):
            _adjust(5, revoked_at=datetime(2025, 6, 2))


class TestEvaluatorAdjustments:
    def test_it_counts_only_from_its_instant(self) -> None:
        """explain --as-of and a backtest before the adjustment do not see it."""
        lead = _lead(_adjust(25, at=AS_OF))
        before = evaluate(MODEL, lead, None, [], AS_OF - US)
        after = evaluate(MODEL, lead, None, [], AS_OF)
        assert before.scores["engagement"] == 0 and not before.mql
        assert after.scores["engagement"] == 25

    def test_a_revoked_adjustment_stops_counting_at_its_revocation(self) -> None:
        lead = _lead(_adjust(25, revoked_at=AS_OF))
        assert evaluate(MODEL, lead, None, [], AS_OF - US).scores["engagement"] == 25
        card = evaluate(MODEL, lead, None, [], AS_OF)
        assert card.scores["engagement"] == 0
        assert [rule.kind for rule in card.rules] == ["attribute", "event"]

    def test_it_is_added_after_the_cap_either_way(self) -> None:
        """fit is capped at 30 (the rule gives 40): +15 makes 45, -50 makes -20, below
        the group's floor of 0; a person's override is not swallowed by a cap."""
        up = evaluate(MODEL, _lead(_adjust(15, "fit")), None, [], AS_OF)
        down = evaluate(MODEL, _lead(_adjust(-50, "fit")), None, [], AS_OF)
        assert up.scores["fit"] == 45 and up.uncapped["fit"] == 55
        assert down.scores["fit"] == -20 and down.uncapped["fit"] == -10
        assert (up.grade, down.grade) == ("A", "C")

    def test_it_never_decays(self) -> None:
        lead = _lead(_adjust(25, at=AS_OF - timedelta(days=400)))
        assert evaluate(MODEL, lead, None, [], AS_OF).scores["engagement"] == 25

    def test_several_adjustments_sum_and_show_oldest_first(self) -> None:
        lead = _lead(
            _adjust(10, at=AS_OF - timedelta(days=1), number="9"),
            _adjust(-4.5, at=AS_OF - timedelta(days=3), number="2"),
            _adjust(7, "fit", number="3"),
        )
        card = evaluate(MODEL, lead, None, [], AS_OF)
        assert card.scores["engagement"] == 5.5
        lines = [rule for rule in card.rules if rule.kind == "adjustment"]
        assert [(rule.rule_id, rule.group) for rule in lines] == [
            ("adjustment:3", "fit"),
            ("adjustment:2", "engagement"),
            ("adjustment:9", "engagement"),
        ]

    def test_it_is_its_own_line_of_the_breakdown(self) -> None:
        card = evaluate(MODEL, _lead(_adjust(25, number="12")), None, [], AS_OF)
        line = card.rules[-1]
        assert isinstance(line, AdjustmentOutcome)
        assert line.to_dict() == {
            "rule_id": "adjustment:12",
            "group": "engagement",
            "kind": "adjustment",
            "points": 25,
            "contribution": 25,
            "matched": True,
            "matched_count": 1,
            "events": [],
            "description": "met them at the trade fair",
            "actor": "user:rita@t.example",
            "at": (AS_OF - timedelta(days=1)).isoformat(),
        }
        assert orjson.loads(card.to_json()) == card.to_dict()
        assert "adjustment:12 +25.0" in card.reasons()

    def test_the_mql_definition_and_roll_ups_see_it(self) -> None:
        click = EventRecord(id="e1", type="email.clicked", ts=AS_OF - timedelta(days=2))
        mate = LeadRecord(id="l2", account_id="acc")
        members = [(_lead(_adjust(25)), [click]), (mate, [click])]
        cards = evaluate_account(MODEL, None, members, AS_OF)
        assert cards[0].mql and cards[0].scores["engagement"] == 35
        assert {card.scores["team"] for card in cards} == {45}
        assert "score engagement >= 30 = 35.0 (yes)" in cards[0].verdict()

    def test_groups_the_model_cannot_adjust_are_ignored(self) -> None:
        """A group another model version had, or a roll-up, counts nowhere."""
        lead = _lead(_adjust(25, "interest"), _adjust(25, "team", number="2"))
        card = evaluate(MODEL, lead, None, [], AS_OF)
        assert card.scores == evaluate(MODEL, _lead(), None, [], AS_OF).scores
        assert all(rule.kind != "adjustment" for rule in card.rules)


def _rollups_from(model: ScoringModel, group: str) -> set[str]:
    return {
        other.name
        for other in model.groups
        if isinstance(other, RollupGroup) and other.source == group
    }


@settings(max_examples=200, deadline=None)
@given(
    spec=model_specs(),
    lead=leads,
    events=event_lists(),
    which=st.integers(0, 2),
    points=st.one_of(
        st.integers(-1000, 1000).map(float),
        st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False),
    ).filter(lambda p: p != 0),
    age=st.floats(min_value=0, max_value=500),
)
def test_an_adjustment_changes_its_groups_score_by_exactly_its_points(
    spec: ModelSpec,
    lead: LeadRecord,
    events: list[EventRecord],
    which: int,
    points: float,
    age: float,
) -> None:
    """+p on a group: that group's score moves by exactly p (after its caps, whatever
    they are), roll-ups of it follow, and nothing else changes but the verdicts."""
    group = spec.groups[which % len(spec.groups)].name
    item = Adjustment(id="1", group=group, points=points, at=AS_OF - timedelta(days=age))
    before = evaluate(spec.model, lead, None, events, AS_OF)
    after = evaluate(
        spec.model,
        LeadRecord(id=lead.id, country=lead.country, adjustments=(item,)),
        None,
        events,
        AS_OF,
    )
    assert after.scores[group] == before.scores[group] + points
    assert after.uncapped[group] == math.fsum(
        [rule.contribution for rule in after.rules if rule.group == group]
    )
    rollups = _rollups_from(spec.model, group)
    for other in spec.model.groups:
        if other.name in rollups:
            expected = clamp(after.scores[group], other.min_points, other.max_points)
            assert after.scores[other.name] == expected
        elif other.name != group:
            assert after.scores[other.name] == before.scores[other.name], other.name
    extra = [rule for rule in after.rules if rule not in before.rules]
    assert [(rule.rule_id, rule.contribution) for rule in extra] == [("adjustment:1", points)]
    assert [rule for rule in after.rules if rule.kind != "adjustment"] == list(before.rules)
