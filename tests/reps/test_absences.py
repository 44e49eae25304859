"""Rep absences: recorded with dates, and honoured by owner assignment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from leadgate.db.engine import Database
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.reps.service import (
    RepIn,
    absent_on,
    add_absence,
    choose_owner,
    delete_absence,
    upcoming_absences,
    upsert_rep,
)

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
TODAY = NOW.date()


def _seed(db: Database) -> None:
    with db.session() as session:
        upsert_rep(session, data=RepIn(email="ann@s.example", name="Ann"), now=NOW)
        upsert_rep(session, data=RepIn(email="bob@s.example", name="Bob"), now=NOW)


def _away(db: Database, email: str, starts_on: date, ends_on: date) -> int:
    with db.session() as session:
        absence = add_absence(
            session,
            rep_email=email,
            starts_on=starts_on,
            ends_on=ends_on,
            note="holiday",
            actor="user:admin@s.example",
            now=NOW,
        )
        return absence.id


def _owner(db: Database, email: str, at: datetime) -> str:
    with db.session() as session:
        lead, _ = upsert_lead(session, data=LeadCreate(email=email), now=at)
        found = session.get(Lead, lead.id)
        assert found is not None
        return choose_owner(session, lead=found, fallback="queue:unassigned", now=at)[0]


class TestAbsences:
    def test_an_absent_rep_gets_no_lead_on_the_days_of_the_absence_only(self, db: Database) -> None:
        """Ann is away today and tomorrow (inclusive): every lead goes to Bob on those
        days, and round robin includes Ann again the day after."""
        _seed(db)
        _away(db, "ann@s.example", TODAY, TODAY + timedelta(days=1))
        owners = {_owner(db, f"p{i}@gmail.com", NOW) for i in range(4)}
        owners |= {
            _owner(db, f"q{i}@gmail.com", NOW + timedelta(days=1, hours=14)) for i in range(3)
        }
        assert owners == {"bob@s.example"}
        later = {_owner(db, f"r{i}@gmail.com", NOW + timedelta(days=2)) for i in range(4)}
        assert "ann@s.example" in later

    def test_the_assignment_date_is_the_utc_date_of_now(self, db: Database) -> None:
        _seed(db)
        _away(db, "ann@s.example", TODAY, TODAY)
        late = datetime.combine(TODAY, datetime.max.time(), tzinfo=UTC)
        with db.session() as session:
            assert absent_on(session, late.date()) == {"ann@s.example"}
            assert absent_on(session, TODAY + timedelta(days=1)) == frozenset()

    def test_everyone_away_falls_back_to_the_queue(self, db: Database) -> None:
        _seed(db)
        for email in ("ann@s.example", "bob@s.example"):
            _away(db, email, TODAY - timedelta(days=3), TODAY)
        assert _owner(db, "x@gmail.com", NOW) == "queue:unassigned"

    def test_upcoming_lists_current_and_planned_and_delete_removes(self, db: Database) -> None:
        _seed(db)
        past = _away(db, "ann@s.example", TODAY - timedelta(days=9), TODAY - timedelta(days=2))
        current = _away(db, "ann@s.example", TODAY, TODAY)
        planned = _away(db, "bob@s.example", TODAY + timedelta(days=5), TODAY + timedelta(days=6))
        with db.session() as session:
            assert [a.id for a in upcoming_absences(session, today=TODAY)] == [current, planned]
            delete_absence(session, absence_id=current)
        with db.session() as session:
            assert [a.id for a in upcoming_absences(session, today=TODAY)] == [planned]
            assert past not in [a.id for a in upcoming_absences(session, today=TODAY)]
            with pytest.raises(NotFoundError):
                delete_absence(session, absence_id=current)

    def test_bad_absences_are_refused(self, db: Database) -> None:
        _seed(db)
        with pytest.raises(LeadgateError, match="before it starts"):
            _away(db, "ann@s.example", TODAY, TODAY - timedelta(days=1))
        with pytest.raises(NotFoundError, match="no rep"):
            _away(db, "nobody@s.example", TODAY, TODAY)
