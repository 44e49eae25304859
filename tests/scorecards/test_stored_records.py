"""Leads read below the ORM decode exactly as the ORM reads them, on every engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadgate.accounts.models import Account
from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.db.engine import Database
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.lifecycle import Stage
from leadgate.scorecards.service import account_record, lead_record
from leadgate.scorecards.stored_records import load_stored_leads
from tests.factories import add_predictions

NOW = datetime(2026, 11, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _store(db: Database) -> tuple[str, str]:
    """A lead with every field, its account and a prediction; a bare lead beside it."""
    with db.session() as session:
        account, _ = upsert_account(
            session,
            data=AccountCreate(
                domain="tatra.cz",
                name="Tatra",
                industry="manufacturing",
                employees=120,
                annual_revenue=2_500_000.5,
                country="CZ",
                tier="1",
                owner="ana@seller.example",
                attributes={"plan": "pro", "nested": {"seats": 40, "tags": ["a", "b"]}},
            ),
            now=NOW,
        )
        full, _ = upsert_lead(
            session,
            data=LeadCreate(
                email="Ceo@Tatra.cz",
                first_name="Jana",
                last_name="Nováková",
                title="CEO",
                seniority="c-level",
                department="executive",
                country="CZ",
                source="webinar",
                channel="paid",
                campaign="q4",
                do_not_email=True,
                do_not_call=False,
                account_id=account.id,
                attributes={"score_hint": 3, "utm": {"source": "linkedin"}, "big": 2**70},
            ),
            now=NOW,
        )
        bare, _ = upsert_lead(session, data=LeadCreate(email="someone@gmail.com"), now=NOW)
        bare.stage = Stage.NURTURE.value  # as a recycle leaves it
        bare.stage_changed_at = NOW + timedelta(microseconds=7)
        add_predictions(session, {full.id: 0.8125}, at=NOW)
        return full.id, bare.id


class TestLoadStoredLeads:
    def test_records_equal_the_orm_records(self, db: Database) -> None:
        """Every field of lead, account and prediction decodes as through the ORM."""
        full_id, bare_id = _store(db)
        with db.session() as session:
            loaded = load_stored_leads(session, lead_ids=[full_id, bare_id, "nobody"])
            for lead in session.scalars(select(Lead)):
                stored = loaded[lead.id]
                predicted = 0.8125 if lead.id == full_id else None
                assert stored.record == lead_record(lead, predicted)
                assert stored.stage == lead.stage
                assert stored.stage_changed_at == lead.stage_changed_at
                if lead.account_id is None:
                    assert stored.account is None
                else:
                    account = session.get(Account, lead.account_id)
                    assert account is not None
                    assert stored.account == account_record(account)
        assert set(loaded) == {full_id, bare_id}
        assert loaded[full_id].record.attributes["big"] == 2**70
        assert loaded[full_id].record.predicted == 0.8125
        # 1 == True: equality above would not notice SQLite's integers passed through
        assert loaded[full_id].record.do_not_email is True
        assert loaded[full_id].record.do_not_call is False
        assert loaded[bare_id].stage == Stage.NURTURE.value
        assert loaded[bare_id].stage_changed_at == NOW + timedelta(microseconds=7)

    def test_nothing_asked_reads_nothing(self, db: Database) -> None:
        """No id gives no lead (and no malformed statement)."""
        _store(db)
        with db.session() as session:
            assert load_stored_leads(session, lead_ids=[]) == {}


class TestOneFieldList:
    def test_the_record_columns_are_the_tables_columns(self) -> None:
        """The evaluator's records name stored columns, and nothing else."""
        from leadgate.accounts.models import Account
        from leadgate.leads.models import Lead
        from leadgate.scoring.nodes import ACCOUNT_FIELDS, LEAD_FIELDS
        from leadgate.scoring.records import ACCOUNT_COLUMNS, LEAD_COLUMNS

        assert set(LEAD_COLUMNS) <= set(Lead.__table__.columns.keys())
        assert set(ACCOUNT_COLUMNS) <= set(Account.__table__.columns.keys())
        # what a model may read of a lead: its columns, less the key to its account,
        # plus the derived email domain
        assert (set(LEAD_COLUMNS) - {"account_id"}) | {"email_domain"} == LEAD_FIELDS
        assert set(ACCOUNT_COLUMNS) == ACCOUNT_FIELDS
