"""The point-in-time replay: first MQL days equal a day-by-day evaluation, and the
future never changes the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leadgate.backtest import ReplayInput, first_mql_times, model_shape, replay
from leadgate.backtest.replay import DAY_US, day_end, epoch_us, nurture_spans
from leadgate.backtest.shape import ModelShape, Trend
from leadgate.exceptions import UnsupportedConstructError
from leadgate.scoring import load_model
from leadgate.scoring.nodes import ScoringModel
from tests.engines.worlds import (
    AS_OF,
    World,
    adjustments_table,
    evaluate_tables,
    model_docs,
    model_from,
    worlds,
)

REPLAY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
START = AS_OF - timedelta(days=310)


def _replayable(doc: dict[str, Any]) -> ScoringModel:
    model = model_from(doc)
    try:
        model_shape(model)
    except UnsupportedConstructError:
        assume(False)
    return model


def _starts(leads: pa.Table, at: datetime) -> pa.Table:
    return pa.table(
        {
            "lead_id": leads.column("lead_id"),
            "start": pa.array([at] * leads.num_rows, pa.timestamp("us", tz="UTC")),
        }
    )


def brute_force_first_mql(model: ScoringModel, world: World, end: datetime) -> dict[str, datetime]:
    """Evaluate every lead at the end of every day from START to ``end`` with the evaluator."""
    first: dict[str, datetime] = {}
    day = epoch_us(START) // DAY_US
    last = epoch_us(end) // DAY_US
    while day <= last:
        instant = min(day_end(day), end)
        cards = evaluate_tables(
            model, world.events, world.leads, world.accounts, instant, world.adjustments
        )
        for lead_id, card in cards.items():
            if card.mql and lead_id not in first:
                first[lead_id] = instant
        day += 1
    return first


class TestReplayMatchesTheEvaluatorDayByDay:
    @REPLAY
    @given(doc=model_docs(), world=worlds())
    def test_first_mql_day_of_every_lead(self, doc: dict[str, Any], world: World) -> None:
        """Checking only the days that can change a verdict finds the same first MQL
        instant as evaluating every lead on every day (falling and rising models alike)."""
        model = _replayable(doc)
        data = ReplayInput(
            world.events,
            world.leads,
            world.accounts,
            _starts(world.leads, START),
            adjustments=world.adjustments,
        )
        result = replay(model, data, end=world.as_of, window_days=45, threads=1)
        assert first_mql_times(result) == brute_force_first_mql(model, world, world.as_of)


def _known_at(adjustments: pa.Table | None, cut: datetime) -> pa.Table | None:
    """The adjustments as they stood at ``cut``: later ones not made, later revocations
    not made either."""
    if adjustments is None:
        return None
    rows = [
        {**row, "revoked_at": row["revoked_at"] if (row["revoked_at"] or cut) <= cut else None}
        for row in adjustments.to_pylist()
        if row["at"] <= cut
    ]
    return pa.Table.from_pylist(rows, schema=adjustments.schema)


class TestPointInTime:
    @REPLAY
    @given(doc=model_docs(), world=worlds(), cut_days=st.integers(-300, 0))
    def test_a_future_event_never_changes_a_past_verdict(
        self, doc: dict[str, Any], world: World, cut_days: int
    ) -> None:
        """Dropping every event, score adjustment and revocation after a cut changes no
        first MQL instant before the cut."""
        model = _replayable(doc)
        cut = world.as_of + timedelta(days=cut_days, hours=7)
        starts = _starts(world.leads, START)
        full = first_mql_times(
            replay(
                model,
                ReplayInput(
                    world.events,
                    world.leads,
                    world.accounts,
                    starts,
                    adjustments=world.adjustments,
                ),
                end=world.as_of,
                threads=1,
            )
        )
        ts = world.events.column("ts").to_pylist()
        past = world.events.filter(pa.array([t <= cut for t in ts], pa.bool_()))
        truncated = first_mql_times(
            replay(
                model,
                ReplayInput(
                    past,
                    world.leads,
                    world.accounts,
                    starts,
                    adjustments=_known_at(world.adjustments, cut),
                ),
                end=world.as_of,
                threads=1,
            )
        )
        before = day_end(epoch_us(cut) // DAY_US - 1)
        assert {k: v for k, v in full.items() if v <= before} == {
            k: v for k, v in truncated.items() if v <= before
        }


MODEL = """
version: 1
name: fixture
groups:
  engagement:
    rules:
      - {id: pricing, event: page.viewed, points: 30, decay: none}
      - {id: click, event: email.clicked, points: 15, half_life_days: 10}
mql: {score: engagement, gte: 40}
"""


def _events(*rows: tuple[str, str, datetime]) -> pa.Table:
    return pa.table(
        {
            "lead_id": [r[0] for r in rows],
            "type": [r[1] for r in rows],
            "ts": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )


class TestHandComputed:
    def test_first_mql_days_and_what_was_checked(self) -> None:
        """a: pricing (30) on day 0, click (15) on day 3 -> 44.9 at the end of day 3.
        b: click on day 0 and pricing on day 40: the click has decayed to 0.09 -> never.
        c: pricing on days 1 and 2 -> 60 at the end of day 2."""
        day0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        events = _events(
            ("a", "page.viewed", day0),
            ("a", "email.clicked", day0 + timedelta(days=3)),
            ("b", "email.clicked", day0),
            ("b", "page.viewed", day0 + timedelta(days=40)),
            ("c", "page.viewed", day0 + timedelta(days=1)),
            ("c", "page.viewed", day0 + timedelta(days=2)),
            ("c", "page.viewed", day0 + timedelta(days=5)),
        )
        leads = pa.table({"lead_id": ["a", "b", "c"]})
        result = replay(
            load_model(MODEL), ReplayInput(events, leads, None), end=day0 + timedelta(days=60)
        )
        first = first_mql_times(result)

        def end_of(days: int) -> datetime:
            moment = day0 + timedelta(days=days)
            return moment.replace(hour=23, minute=59, second=59, microsecond=999_999)

        assert first == {"a": end_of(3), "c": end_of(2)}
        assert not result.every_day
        # a: days 0 and 3; b: days 0 and 40; c: days 1, 2 and 5 (a lead that qualified
        # is dropped from the next 28-day window, not within its own)
        assert result.checkpoints == 7
        assert result.windows == 3  # days 0-27, 28-55, 56-60

    def test_a_definition_that_can_rise_with_time_checks_every_day(self) -> None:
        """An unsubscribe whose penalty fades makes a lead qualify on a quiet day."""
        model = load_model(
            """
version: 1
name: fading-penalty
groups:
  engagement:
    rules:
      - {id: pricing, event: page.viewed, points: 30, decay: none}
      - {id: unsubscribed, event: email.unsubscribed, points: -20, within_days: 7}
mql: {score: engagement, gte: 30}
"""
        )
        day0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        events = _events(("a", "email.unsubscribed", day0), ("a", "page.viewed", day0))
        result = replay(
            model,
            ReplayInput(events, pa.table({"lead_id": ["a"]}), None),
            end=day0 + timedelta(days=20),
        )
        assert result.every_day
        # the penalty leaves the 7-day window during day 7: qualified at the end of day 7
        assert first_mql_times(result) == {
            "a": (day0 + timedelta(days=7)).replace(
                hour=23, minute=59, second=59, microsecond=999_999
            )
        }

    def test_a_quiet_day_with_an_adjustment_is_checked(self) -> None:
        """a: pricing (30) on day 0, +15 adjusted on day 5 (no event that day) and
        revoked on day 9: an MQL at the end of day 5; the days checked are day 0 and
        the adjustment's two days."""
        day0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        adjustments = adjustments_table(
            [
                {
                    "lead_id": "a",
                    "group_name": "engagement",
                    "points": 15.0,
                    "at": day0 + timedelta(days=5),
                    "revoked_at": day0 + timedelta(days=9),
                }
            ]
        )
        data = ReplayInput(
            _events(("a", "page.viewed", day0)),
            pa.table({"lead_id": ["a"]}),
            None,
            adjustments=adjustments,
        )
        result = replay(load_model(MODEL), data, end=day0 + timedelta(days=20))
        assert first_mql_times(result) == {"a": day_end(epoch_us(day0) // DAY_US + 5)}
        every = replay(
            load_model(MODEL), data, end=day0 + timedelta(days=20), keep="TRUE", done="FALSE"
        )
        scores = [row["engagement"] for row in every.hits.to_pylist()]
        assert scores == [30, 45, 30] and every.checkpoints == 3

    def test_a_predicted_test_is_refused(self) -> None:
        model = load_model(
            "version: 1\nname: p\ngroups: {fit: {rules: [{id: r, when: {lead.country: CZ}, "
            "points: 1}]}}\nmql: {predicted: {gte: 0.5}}\n"
        )
        with pytest.raises(UnsupportedConstructError, match="point in time"):
            model_shape(model)


class TestNurtureSpans:
    def test_spans_open_close_and_reopen_per_lead(self) -> None:
        at = [datetime(2026, 1, day, tzinfo=UTC) for day in range(1, 7)]
        changes = pa.Table.from_pylist(
            [
                {"lead_id": "a", "to_stage": "mql", "at": at[0]},
                {"lead_id": "a", "to_stage": "nurture", "at": at[1]},
                {"lead_id": "b", "to_stage": "nurture", "at": at[2]},
                {"lead_id": "a", "to_stage": "mql", "at": at[3]},
                {"lead_id": "a", "to_stage": "nurture", "at": at[4]},
                {"lead_id": "b", "to_stage": "disqualified", "at": at[5]},
            ]
        )
        assert nurture_spans(changes).to_pylist() == [
            {"lead_id": "a", "from": at[1], "until": at[3]},
            {"lead_id": "b", "from": at[2], "until": at[5]},
            {"lead_id": "a", "from": at[4], "until": None},
        ]

    def test_inside_a_span_only_later_events_count(self) -> None:
        model = load_model(
            "version: 1\nname: r\ngroups:\n  engagement:\n    rules:\n"
            "      - {id: click, event: email.clicked, points: 10}\n"
            "mql: {score: engagement, gte: 20}\n"
        )
        day = [datetime(2026, 1, d, 12, tzinfo=UTC) for d in range(1, 6)]
        events = pa.Table.from_pylist(
            [
                {"lead_id": "a", "type": "email.clicked", "ts": day[0]},
                {"lead_id": "a", "type": "email.clicked", "ts": day[1]},
                {"lead_id": "a", "type": "email.clicked", "ts": day[3]},
            ],
            schema=pa.schema(
                [("lead_id", pa.string()), ("type", pa.string()), ("ts", pa.timestamp("us", "UTC"))]
            ),
        )
        leads = pa.table({"lead_id": ["a"]})
        spans = nurture_spans(
            pa.Table.from_pylist([{"lead_id": "a", "to_stage": "nurture", "at": day[2]}])
        )
        recycled = ReplayInput(events=events, leads=leads, accounts=None, recycled=spans)
        hits = replay(model, recycled, end=day[4], keep="TRUE", done="FALSE").hits.to_pylist()
        scores = {row["as_of_us"]: row["engagement"] for row in hits}
        # two clicks before recycling: MQL on day 2; inside nurture only day 4's click counts
        assert scores[epoch_us(day_end(epoch_us(day[1]) // DAY_US))] == 20
        assert scores[epoch_us(day_end(epoch_us(day[3]) // DAY_US))] == 10
        everything = ReplayInput(events=events, leads=leads, accounts=None)
        plain = replay(model, everything, end=day[4], keep="TRUE", done="FALSE").hits
        assert max(row["engagement"] for row in plain.to_pylist()) == 30

    def test_inside_a_span_only_later_adjustments_count(self) -> None:
        """+20 before the recycle stops counting inside the span, +5 made inside it
        counts; once the span ends, both count again (as the counted-events rule says)."""
        model = load_model(
            "version: 1\nname: r\ngroups:\n  engagement:\n    rules:\n"
            "      - {id: click, event: email.clicked, points: 10}\n"
            "mql: {score: engagement, gte: 100}\n"
        )
        day = [datetime(2026, 1, d, 12, tzinfo=UTC) for d in range(1, 8)]
        events = _events(("a", "email.clicked", day[0]))
        adjustments = adjustments_table(
            [
                {"lead_id": "a", "group_name": "engagement", "points": 20.0, "at": day[1]},
                {"lead_id": "a", "group_name": "engagement", "points": 5.0, "at": day[3]},
            ]
        )
        spans = nurture_spans(
            pa.Table.from_pylist(
                [
                    {"lead_id": "a", "to_stage": "nurture", "at": day[2]},
                    {"lead_id": "a", "to_stage": "mql", "at": day[5]},
                ]
            )
        )
        data = ReplayInput(
            events=events,
            leads=pa.table({"lead_id": ["a"]}),
            accounts=None,
            recycled=spans,
            adjustments=adjustments,
        )
        every_day = ModelShape(trend=Trend.RISING, uses_account=False)
        hits = replay(model, data, end=day[6], keep="TRUE", done="FALSE", shape=every_day).hits
        scores = {row["as_of_us"]: row["engagement"] for row in hits.to_pylist()}

        def at_end_of(moment: datetime) -> float:
            return float(scores[epoch_us(day_end(epoch_us(moment) // DAY_US))])

        assert at_end_of(day[1]) == 30  # the click and +20
        assert at_end_of(day[3]) == 5  # in nurture: only +5, made after the recycle
        assert float(scores[epoch_us(day[6])]) == 35  # back from nurture: everything again
