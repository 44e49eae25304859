"""Scoring stored leads: scorecards stored with their model version, MQL moves with history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.db.engine import Database
from leadgate.events.service import insert_event_rows
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, upsert_lead
from leadgate.scorecards.models import StoredScorecard
from leadgate.scorecards.service import score_all, stage_counts
from leadgate.scoring import default_model

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _hot_lead(db: Database, email: str = "ceo@tatra.cz", *, events: bool = True) -> str:
    """A grade-A lead at a Czech manufacturer with enough recent engagement to be an MQL."""
    with db.session() as session:
        upsert_account(
            session,
            data=AccountCreate(
                domain="tatra.cz", industry="manufacturing", employees=120, country="CZ"
            ),
            now=NOW - timedelta(days=30),
        )
        lead, _ = upsert_lead(
            session, data=LeadCreate(email=email, seniority="c-level"), now=NOW - timedelta(days=30)
        )
        if events:
            rows = [
                (
                    f"{email}-open-{i}",
                    lead.id,
                    "email.opened",
                    NOW - timedelta(days=i + 1),
                    "email",
                    None,
                    {},
                )
                for i in range(3)
            ]
            rows += [
                (
                    f"{email}-pricing",
                    lead.id,
                    "page.viewed",
                    NOW - timedelta(days=1),
                    "web",
                    None,
                    {"url": "https://x.cz/pricing"},
                ),
                (
                    f"{email}-webinar",
                    lead.id,
                    "webinar.attended",
                    NOW - timedelta(days=2),
                    None,
                    None,
                    {},
                ),
            ]
            insert_event_rows(session, rows=rows, received_at=NOW)
        return lead.id


class TestScoreAll:
    def test_qualifying_lead_moves_to_mql_with_a_reasoned_history_row(self, db: Database) -> None:
        lead_id = _hot_lead(db)
        with db.session() as session:
            run = score_all(session, model=default_model(), as_of=NOW)
        assert run.leads == 1 and run.mql_verdicts == 1 and len(run.qualified) == 1
        with db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None and lead.stage == "mql"
            change = session.scalars(select(StageChange).where(StageChange.to_stage == "mql")).one()
            assert change.from_stage == "lead"
            assert change.actor == "system:b2b-default@v3"
            assert change.reason is not None
            assert "b2b-default@v3" in change.reason
            assert "score engagement >= 60" in change.reason
            assert change.at == NOW

    def test_scorecard_is_stored_with_model_version_and_breakdown(self, db: Database) -> None:
        lead_id = _hot_lead(db)
        with db.session() as session:
            score_all(session, model=default_model(), as_of=NOW)
        with db.session() as session:
            card = session.get(StoredScorecard, lead_id)
            assert card is not None
            assert (card.model_name, card.model_version) == ("b2b-default", 3)
            assert card.grade == "A" and card.mql is True
            assert card.scores["fit"] == pytest.approx(60.0)
            rule_ids = {rule["rule_id"] for rule in card.breakdown["rules"] if rule["matched"]}
            assert {"newsletter-open", "pricing", "webinar"} <= rule_ids
            assert "cta-click" not in rule_ids

    def test_scoring_twice_does_not_duplicate_history(self, db: Database) -> None:
        """A lead already in mql stays there; no second history row."""
        _hot_lead(db)
        with db.session() as session:
            score_all(session, model=default_model(), as_of=NOW)
        with db.session() as session:
            run = score_all(session, model=default_model(), as_of=NOW + timedelta(hours=1))
            assert run.qualified == []
            count = len(
                session.scalars(select(StageChange).where(StageChange.to_stage == "mql")).all()
            )
        assert count == 1

    def test_lead_without_engagement_is_scored_but_not_moved(self, db: Database) -> None:
        _hot_lead(db, events=False)
        with db.session() as session:
            run = score_all(session, model=default_model(), as_of=NOW)
            assert run.mql_verdicts == 0
            assert stage_counts(session)["lead"] == 1

    def test_recycled_lead_needs_new_activity_to_qualify_again(self, db: Database) -> None:
        """Sent back to nurture, old engagement no longer counts; new engagement does."""
        lead_id = _hot_lead(db)
        with db.session() as session:
            score_all(session, model=default_model(), as_of=NOW)
            lead = session.get(Lead, lead_id)
            assert lead is not None
            change_stage(
                session,
                lead=lead,
                to="nurture",
                actor="rep@x.cz",
                at=NOW + timedelta(hours=2),
                reason="not ready to buy",
            )
        with db.session() as session:
            run = score_all(session, model=default_model(), as_of=NOW + timedelta(hours=3))
            assert run.qualified == []
        with db.session() as session:
            later = NOW + timedelta(days=1)
            rows = [
                (f"new-{i}", lead_id, kind, later - timedelta(hours=i), "web", None, props)
                for i, (kind, props) in enumerate(
                    [
                        ("email.clicked", {}),
                        ("email.clicked", {}),
                        ("webinar.attended", {}),
                        ("page.viewed", {"url": "/pricing"}),
                    ]
                )
            ]
            insert_event_rows(session, rows=rows, received_at=later)
        with db.session() as session:
            run = score_all(session, model=default_model(), as_of=NOW + timedelta(days=1, hours=1))
            assert [q.lead_id for q in run.qualified] == [lead_id]
            assert run.qualified[0].from_stage == "nurture"

    def test_account_rollup_sums_colleagues(self, db: Database) -> None:
        first = _hot_lead(db, "ceo@tatra.cz")
        second = _hot_lead(db, "cto@tatra.cz")
        with db.session() as session:
            score_all(session, model=default_model(), as_of=NOW)
        with db.session() as session:
            a = session.get(StoredScorecard, first)
            b = session.get(StoredScorecard, second)
            assert a is not None and b is not None
            total = a.scores["engagement"] + b.scores["engagement"]
            assert a.scores["account_engagement"] == pytest.approx(total)
            assert b.scores["account_engagement"] == pytest.approx(total)
