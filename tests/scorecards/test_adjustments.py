"""Score adjustments on record: kept right, read as the evaluator's inputs by the stored
path and below the ORM, under the recycling rule, and kept through a merge."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from leadgate.db.engine import Database
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, merge_leads, upsert_lead
from leadgate.lifecycle import Stage
from leadgate.scorecards.adjustments import (
    adjustment_record,
    counted_adjustments,
    list_adjustments,
    load_adjustments,
    mark_revoked,
    record_adjustment,
)
from leadgate.scorecards.models import ScoreAdjustment, StoredScorecard
from leadgate.scorecards.service import evaluate_leads, lead_record, score_all
from leadgate.scorecards.stored_records import load_stored_leads
from leadgate.scoring import Adjustment, load_model

NOW = datetime(2026, 11, 1, 12, 30, 15, 123456, tzinfo=UTC)
MODEL = load_model(
    """
version: 1
name: adjusted
groups:
  fit:
    max_points: 10
    rules:
      - {id: cz, when: {lead.country: CZ}, points: 20}
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 15}
mql: {score: fit, gte: 25}
"""
)


def _lead(db: Database, email: str = "jana@tatra.cz") -> str:
    with db.session() as session:
        lead, _ = upsert_lead(session, data=LeadCreate(email=email, country="CZ"), now=NOW)
        return lead.id


def _adjust(
    db: Database, lead_id: str, points: float, *, at: datetime = NOW, group: str = "fit"
) -> int:
    with db.session() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        row = record_adjustment(
            session, lead=lead, group=group, points=points, reason="reseller", actor="u", at=at
        )
        return row.id


class TestRecordAdjustment:
    def test_it_is_stored_with_its_instant_and_moves_the_leads_updated_at(
        self, db: Database
    ) -> None:
        lead_id = _lead(db)
        later = NOW + timedelta(hours=1)
        number = _adjust(db, lead_id, -30.5, at=later)
        with db.session() as session:
            row = session.get(ScoreAdjustment, number)
            lead = session.get(Lead, lead_id)
            assert row is not None and lead is not None
            assert (row.group_name, row.points, row.reason, row.actor) == (
                "fit",
                -30.5,
                "reseller",
                "u",
            )
            assert row.at == later and row.revoked_at is None
            assert lead.updated_at == later  # the service's kept leads see the change

    @pytest.mark.parametrize("points", [0, 1000.5, -1001, math.nan, math.inf])
    def test_points_out_of_range_are_refused(self, db: Database, points: float) -> None:
        lead_id = _lead(db)
        with pytest.raises(LeadgateError, match="other than 0, at most 1000"):
            _adjust(db, lead_id, points)

    @pytest.mark.parametrize(("reason", "message"), [("  ", "needs a reason"), ("x" * 501, "500")])
    def test_a_reason_is_required_and_bounded(
        self, db: Database, reason: str, message: str
    ) -> None:
        lead_id = _lead(db)
        with pytest.raises(LeadgateError, match=message), db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            record_adjustment(
                session, lead=lead, group="fit", points=5, reason=reason, actor="u", at=NOW
            )

    def test_the_database_refuses_points_out_of_range_too(self, db: Database) -> None:
        lead_id = _lead(db)
        with pytest.raises(IntegrityError, match=r"(?i)check"), db.session() as session:
            session.add(
                ScoreAdjustment(
                    lead_id=lead_id, group_name="fit", points=0, reason="r", actor="u", at=NOW
                )
            )


class TestMarkRevoked:
    def test_it_stays_on_record_with_who_and_when(self, db: Database) -> None:
        lead_id = _lead(db)
        number = _adjust(db, lead_id, 5)
        later = NOW + timedelta(days=1)
        with db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            mark_revoked(session, lead=lead, adjustment_id=number, actor="boss", at=later)
        with db.session() as session:
            (row,) = list_adjustments(session, lead_id=lead_id)
            assert (row.revoked_at, row.revoked_by) == (later, "boss")

    def test_another_leads_adjustment_twice_or_before_it_was_made_is_refused(
        self, db: Database
    ) -> None:
        mine, other = _lead(db), _lead(db, "other@x.cz")
        number = _adjust(db, mine, 5)
        with pytest.raises(NotFoundError, match="no adjustment"), db.session() as session:
            lead = session.get(Lead, other)
            assert lead is not None
            mark_revoked(session, lead=lead, adjustment_id=number, actor="u", at=NOW)
        with pytest.raises(LeadgateError, match="before it was made"), db.session() as session:
            lead = session.get(Lead, mine)
            assert lead is not None
            mark_revoked(session, lead=lead, adjustment_id=number, actor="u", at=NOW - timedelta(1))
        with db.session() as session:
            lead = session.get(Lead, mine)
            assert lead is not None
            mark_revoked(session, lead=lead, adjustment_id=number, actor="u", at=NOW)
        with pytest.raises(LeadgateError, match="revoked already"), db.session() as session:
            lead = session.get(Lead, mine)
            assert lead is not None
            mark_revoked(session, lead=lead, adjustment_id=number, actor="u", at=NOW)


class TestLoadAdjustments:
    def test_records_equal_the_orm_records_by_lead(self, db: Database) -> None:
        first, second = _lead(db), _lead(db, "b@x.cz")
        _adjust(db, first, 5, at=NOW + timedelta(microseconds=3))
        _adjust(db, first, -2.25, at=NOW, group="engagement")
        number = _adjust(db, second, 7)
        with db.session() as session:
            lead = session.get(Lead, second)
            assert lead is not None
            mark_revoked(
                session, lead=lead, adjustment_id=number, actor="u", at=NOW + timedelta(days=2)
            )
        with db.session() as session:
            loaded = load_adjustments(session)
            for lead_id in (first, second):
                rows = list_adjustments(session, lead_id=lead_id)
                assert loaded[lead_id] == tuple(adjustment_record(row) for row in rows)
            assert [item.points for item in loaded[first]] == [-2.25, 5]  # oldest first
            assert load_adjustments(session, lead_ids=[second]).keys() == {second}
            assert load_adjustments(session, lead_ids=[]) == {}

    def test_leads_read_below_the_orm_carry_them(self, db: Database) -> None:
        lead_id = _lead(db)
        _adjust(db, lead_id, 5)
        with db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            stored = load_stored_leads(session, lead_ids=[lead_id])[lead_id]
            expected = tuple(
                adjustment_record(row) for row in list_adjustments(session, lead_id=lead_id)
            )
            assert stored.record == lead_record(lead, None, expected)


class TestCountedAdjustments:
    def test_a_recycled_lead_counts_only_those_made_after_its_recycling(self) -> None:
        items = tuple(
            Adjustment(id=str(day), group="fit", points=1, at=NOW + timedelta(days=day))
            for day in range(3)
        )
        recycled = NOW + timedelta(days=1)
        assert counted_adjustments(Stage.NURTURE.value, recycled, items) == items[2:]
        assert counted_adjustments(Stage.MQL.value, recycled, items) == items


class TestStoredPath:
    def test_evaluate_leads_and_score_all_count_them_point_in_time(self, db: Database) -> None:
        """fit: 20 capped at 10, plus 20 adjusted from NOW: an MQL from NOW on only."""
        lead_id = _lead(db)
        _adjust(db, lead_id, 20)
        with db.session() as session:
            _, (before,) = evaluate_leads(
                session, lead_ids=[lead_id], model=MODEL, as_of=NOW - timedelta(seconds=1)
            )
            _, (after,) = evaluate_leads(session, lead_ids=[lead_id], model=MODEL, as_of=NOW)
            assert (before.scores["fit"], after.scores["fit"]) == (10, 30)
            run = score_all(session, model=MODEL, as_of=NOW)
            assert [q.lead_id for q in run.qualified] == [lead_id]
        with db.session() as session:
            stored = session.get(StoredScorecard, lead_id)
            assert stored is not None and stored.scores["fit"] == 30
            kinds = [(rule["group"], rule["kind"]) for rule in stored.breakdown["rules"]]
            assert kinds == [("fit", "attribute"), ("fit", "adjustment"), ("engagement", "event")]

    def test_a_recycled_lead_drops_what_sales_judged_before(self, db: Database) -> None:
        lead_id = _lead(db)
        _adjust(db, lead_id, 20)
        recycled = NOW + timedelta(days=1)
        with db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            lead.stage = Stage.MQL.value
            change_stage(
                session, lead=lead, to=Stage.NURTURE, actor="s", at=recycled, reason="later"
            )
        _adjust(db, lead_id, 3, at=recycled + timedelta(hours=1))
        with db.session() as session:
            at = recycled + timedelta(days=1)
            _, (card,) = evaluate_leads(session, lead_ids=[lead_id], model=MODEL, as_of=at)
            assert card.scores["fit"] == 13


class TestMerge:
    def test_adjustments_move_to_the_kept_lead(self, db: Database) -> None:
        keep, drop = _lead(db), _lead(db, "jana.old@tatra.cz")
        _adjust(db, drop, 20)
        with db.session() as session:
            kept = session.get(Lead, keep)
            dropped = session.get(Lead, drop)
            assert kept is not None and dropped is not None
            merge_leads(session, keep=kept, drop=dropped, actor="u", now=NOW)
        with db.session() as session:
            rows = session.scalars(select(ScoreAdjustment)).all()
            assert [row.lead_id for row in rows] == [keep]
