"""Account mates that get no scorecard: scored only on the groups the roll-ups read,
from their full history or from the events a scorecard of theirs counted, they give
the same cards as scoring the whole account together."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.scoring import EventRecord, LeadRecord, evaluate_account, load_model
from leadgate.scoring.evaluator import evaluate_histories
from leadgate.scoring.history import LeadHistory, rollup_sources
from leadgate.scoring.nodes import RuleGroup
from leadgate.scoring.scorecard import Scorecard
from tests.scoring.test_properties import (
    AS_OF,
    ModelSpec,
    event_lists,
    leads,
    model_specs,
)

#: fewer examples than the evaluator's own properties: each draws a whole account
MATES_SETTINGS = settings(max_examples=100, deadline=None)
with_rollups = model_specs().filter(lambda spec: spec.rollup is not None)
later = st.floats(min_value=0, max_value=500).map(lambda days: AS_OF + timedelta(days=days))


def _members(raw: list[tuple[LeadRecord, list[EventRecord]]]) -> list[Any]:
    return [
        (LeadRecord(id=f"lead{i}", country=lead.country), events)
        for i, (lead, events) in enumerate(raw)
    ]


def _counted(card: Scorecard, groups: set[str]) -> dict[str, list[EventRecord]]:
    """The events each event rule of ``groups`` counted, read back from the compact
    JSON stored with the card (as a read does)."""
    stored = orjson.loads(card.counted_json())
    rules = {outcome.rule_id for outcome in card.rules if outcome.group in groups}
    return {
        rule_id: [EventRecord(id_, type_, datetime.fromisoformat(ts)) for ts, id_, type_ in events]
        for rule_id, (_, events) in stored.items()
        if rule_id in rules
    }


class TestRollupSources:
    @MATES_SETTINGS
    @given(spec=with_rollups)
    def test_keeps_only_the_groups_the_rollups_read_and_no_verdict(self, spec: ModelSpec) -> None:
        sources = rollup_sources(spec.model)
        read = {group.source for group in spec.model.rollup_groups}
        assert {group.name for group in sources.groups} == read
        assert all(isinstance(group, RuleGroup) for group in sources.groups)
        assert sources.mql is None and sources.grades is None
        assert rollup_sources(spec.model) is sources  # one per model: plans are by identity


class TestMatesFromTheirHistory:
    @MATES_SETTINGS
    @given(
        spec=with_rollups,
        raw=st.lists(st.tuples(leads, event_lists()), min_size=2, max_size=4),
        at=later,
    )
    def test_the_cards_equal_scoring_the_account_together(
        self, spec: ModelSpec, raw: list[Any], at: Any
    ) -> None:
        members = _members(raw)
        together = evaluate_account(spec.model, None, members, at)
        sources = rollup_sources(spec.model)
        (target, events), *others = members
        mates = [LeadHistory(sources, lead, None, history) for lead, history in others]
        (card,) = evaluate_histories(
            spec.model, [LeadHistory(spec.model, target, None, events)], at, mates=mates
        )
        assert card.to_dict() == together[0].to_dict()


class TestMatesFromTheirCards:
    @MATES_SETTINGS
    @given(
        spec=with_rollups,
        target=st.tuples(leads, event_lists()),
        others=st.lists(st.tuples(leads, event_lists(future=False)), min_size=1, max_size=3),
        at=later,
    )
    def test_a_card_s_counted_events_score_later_as_the_full_history(
        self, spec: ModelSpec, target: Any, others: list[Any], at: Any
    ) -> None:
        """Mates with no event after the cards' instant: what their cards counted then
        is all a later roll-up needs, however windows, caps and max_count cut."""
        members = _members([target, *others])
        then = evaluate_account(spec.model, None, members, AS_OF)
        sources = rollup_sources(spec.model)
        read = {group.name for group in sources.groups}
        mates = [
            LeadHistory.counted(sources, lead, None, _counted(card, read))
            for (lead, _), card in zip(members[1:], then[1:], strict=True)
        ]
        lead, events = members[0]
        (card,) = evaluate_histories(
            spec.model, [LeadHistory(spec.model, lead, None, events)], at, mates=mates
        )
        assert card.to_dict() == evaluate_account(spec.model, None, members, at)[0].to_dict()


class TestCountedHistory:
    MODEL = load_model(
        """
version: 1
name: counted
groups:
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 15}
  account:
    rollup: {from: engagement, how: sum}
mql: {any_event: [email.clicked], within_days: 30}
"""
    )

    def test_refuses_a_model_whose_verdict_tests_events(self) -> None:
        with pytest.raises(ValueError, match="event tests"):
            LeadHistory.counted(self.MODEL, LeadRecord(id="a"), None, {})

    def test_refuses_a_rule_the_model_does_not_have(self) -> None:
        sources = rollup_sources(self.MODEL)
        with pytest.raises(ValueError, match="'open' is not an event rule of counted@v1"):
            LeadHistory.counted(sources, LeadRecord(id="a"), None, {"open": []})
