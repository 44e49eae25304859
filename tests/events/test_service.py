"""Event storage: idempotent inserts, aware-UTC timestamps, derived ids and per-lead reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.common.text import parse_timestamp
from leadgate.db.engine import Database
from leadgate.events.models import Event
from leadgate.events.schemas import EventCreate, check_event_type, derived_event_id
from leadgate.events.service import (
    EventRow,
    insert_event_rows,
    load_event_records,
    record_event,
)
from leadgate.exceptions import NotFoundError
from leadgate.leads.models import Lead, LeadAlias
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
PRAGUE = ZoneInfo("Europe/Prague")


def _leads(session: Session, *ids: str) -> None:
    for lead_id in ids:
        upsert_lead(
            session, data=LeadCreate(id=lead_id, email=f"{lead_id.lower()}@acme.cz"), now=T0
        )


def _row(event_id: str, lead_id: str = "L1", at: datetime = T0, **props: Any) -> EventRow:
    return (event_id, lead_id, "email.opened", at, None, None, props)


def _stored(db: Database) -> dict[str, Event]:
    with db.session() as session:
        return {event.event_id: event for event in session.scalars(select(Event))}


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)


class TestParseTimestamp:
    """ISO 8601 in, aware UTC out; a missing zone is refused unless one is assumed."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-01-15T10:00:00Z", datetime(2026, 1, 15, 10, 0, tzinfo=UTC)),
            ("2026-01-15 11:00:00+01:00", datetime(2026, 1, 15, 10, 0, tzinfo=UTC)),
            (
                "2026-01-15T05:30:00.123456-04:30",
                datetime(2026, 1, 15, 10, 0, 0, 123456, tzinfo=UTC),
            ),
            ("  2026-01-15T10:00Z ", datetime(2026, 1, 15, 10, 0, tzinfo=UTC)),
        ],
    )
    def test_zoned_timestamps_become_utc(self, text: str, expected: datetime) -> None:
        """Any offset is converted to UTC; the result is aware with offset zero."""
        parsed = parse_timestamp(text)
        assert parsed == expected
        assert parsed.utcoffset() == timedelta(0)

    def test_naive_timestamp_is_refused(self) -> None:
        """Guessing a zone would shift events by hours: refused, mentioning --assume-tz."""
        with pytest.raises(ValueError, match=r"has no time zone.*--assume-tz"):
            parse_timestamp("2026-01-15 10:00:00")
        with pytest.raises(ValueError, match="has no time zone"):
            parse_timestamp(datetime(2026, 1, 15, 10, 0))

    @pytest.mark.parametrize(
        ("text", "expected_utc"),
        [
            ("2026-01-15 10:00:00", datetime(2026, 1, 15, 9, 0, tzinfo=UTC)),
            ("2026-07-15 10:00:00", datetime(2026, 7, 15, 8, 0, tzinfo=UTC)),
            ("2026-03-29 03:30:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
            ("2026-10-25 01:59:59", datetime(2026, 10, 24, 23, 59, 59, tzinfo=UTC)),
        ],
    )
    def test_assumed_zone_follows_daylight_saving(self, text: str, expected_utc: datetime) -> None:
        """Europe/Prague is UTC+1 in winter and UTC+2 in summer, switching on the right days."""
        assert parse_timestamp(text, assume_tz=PRAGUE) == expected_utc

    def test_assumed_zone_does_not_override_an_explicit_offset(self) -> None:
        """assume_tz only applies to timestamps without a zone."""
        assert parse_timestamp("2026-07-15T10:00:00Z", assume_tz=PRAGUE) == datetime(
            2026, 7, 15, 10, 0, tzinfo=UTC
        )

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("", "empty"),
            ("yesterday", "not an ISO 8601 timestamp"),
            ("15.01.2026 10:00", "not an ISO 8601 timestamp"),
            ("2026-02-30T10:00:00Z", "not an ISO 8601 timestamp"),
            ("0001-01-01T00:00:00+01:00", "out of range"),
            ("9999-12-31T23:59:59-01:00", "out of range"),
        ],
    )
    def test_bad_timestamps_are_value_errors(self, value: str, message: str) -> None:
        """Unparseable and unrepresentable timestamps raise ValueError (a rejected row),
        never another exception type that would abort an import."""
        with pytest.raises(ValueError, match=message):
            parse_timestamp(value)


class TestEventSchemas:
    """EventCreate and the helpers share one set of rules for event fields."""

    def test_event_create_normalises(self) -> None:
        """Types are trimmed, the timestamp becomes aware UTC, blanks become None."""
        data = EventCreate(
            type=" email.opened ",
            occurred_at="2026-01-15T11:00:00+01:00",  # type: ignore[arg-type]
            email="a@acme.cz",
            lead_id="",
            channel=" ",
        )
        assert (data.type, data.occurred_at, data.lead_id, data.channel) == (
            "email.opened",
            T0,
            None,
            None,
        )

    @pytest.mark.parametrize(
        "fields",
        [
            {"type": "email.opened", "occurred_at": "2026-01-15T10:00:00Z"},
            {"type": "email opened", "occurred_at": "2026-01-15T10:00:00Z", "lead_id": "L1"},
            {"type": "x" * 201, "occurred_at": "2026-01-15T10:00:00Z", "lead_id": "L1"},
            {"type": "email.opened", "occurred_at": "2026-01-15 10:00", "lead_id": "L1"},
            {"type": "a", "occurred_at": T0, "lead_id": "L1", "channel": "c" * 201},
            {"type": "a", "occurred_at": T0, "lead_id": "L1", "event_id": "e" * 256},
        ],
    )
    def test_event_create_refuses_bad_input(self, fields: dict[str, Any]) -> None:
        """No lead reference, bad or long types, naive times and over-long fields fail."""
        with pytest.raises(ValidationError):
            EventCreate(**fields)

    def test_event_types(self) -> None:
        """Dotted names of letters, digits and _ . : - are types; spaces and symbols are not."""
        assert check_event_type("crm:deal.stage_changed-v2") == "crm:deal.stage_changed-v2"
        for bad in ("", ".opened", "email opened", "email/opened", "é.opened"):
            with pytest.raises(ValueError, match="event type"):
                check_event_type(bad)

    def test_derived_id_is_stable_and_discriminating(self) -> None:
        """The derived id ignores the case of the lead reference but changes with the type,
        the time or the properties."""
        base = derived_event_id("Jana@Acme.cz", "page.viewed", T0, {"path": "/a"})
        assert base == derived_event_id("jana@acme.cz", "page.viewed", T0, {"path": "/a"})
        assert base.startswith("h_")
        assert len(base) == 34
        others = {
            derived_event_id("jana@acme.cz", "page.clicked", T0, {"path": "/a"}),
            derived_event_id(
                "jana@acme.cz", "page.viewed", T0 + timedelta(seconds=1), {"path": "/a"}
            ),
            derived_event_id("jana@acme.cz", "page.viewed", T0, {"path": "/b"}),
            derived_event_id("eva@acme.cz", "page.viewed", T0, {"path": "/a"}),
        }
        assert base not in others
        assert len(others) == 4


class TestInsertEventRows:
    """insert_event_rows stores new event ids and skips stored ones (idempotent)."""

    def test_new_rows_are_counted(self, db: Database) -> None:
        """Every new event id is stored and counted."""
        with db.session() as session:
            _leads(session, "L1", "L2")
            assert (
                insert_event_rows(session, rows=[_row("e1"), _row("e2", "L2")], received_at=T0) == 2
            )
            assert insert_event_rows(session, rows=[], received_at=T0) == 0
        assert set(_stored(db)) == {"e1", "e2"}

    def test_stored_ids_are_skipped(self, db: Database) -> None:
        """Inserting the same ids again stores nothing and keeps the first version."""
        with db.session() as session:
            _leads(session, "L1")
            insert_event_rows(session, rows=[_row("e1", a=1)], received_at=T0)
        with db.session() as session:
            again = [_row("e1", a=2), _row("e2")]
            assert insert_event_rows(session, rows=again, received_at=T0) == 1
            assert insert_event_rows(session, rows=again, received_at=T0) == 0
            assert _count(session) == 2
        assert _stored(db)["e1"].properties == {"a": 1}

    def test_repeated_id_inside_one_batch_is_stored_once(self, db: Database) -> None:
        """Two rows with one id in a single call store the first and skip the second."""
        with db.session() as session:
            _leads(session, "L1")
            assert insert_event_rows(session, rows=[_row("e1"), _row("e1")], received_at=T0) == 1

    def test_each_lead_keeps_its_stored_event_count(self, db: Database) -> None:
        """``leads.events_stored`` follows every insert: new rows add to their lead, and
        a call that skipped duplicates leaves the true count, not the rows offered."""

        def counts(session: Session) -> dict[str, int]:
            rows = session.execute(select(Lead.id, Lead.events_stored))
            return dict(rows.all())

        with db.session() as session:
            _leads(session, "L1", "L2", "L3")
            fresh = [_row("e1"), _row("e2"), _row("e3", "L2")]
            insert_event_rows(session, rows=fresh, received_at=T0)
            assert counts(session) == {"L1": 2, "L2": 1, "L3": 0}
        with db.session() as session:
            mixed = [_row("e1"), _row("e4"), _row("e4"), _row("e5", "L2")]
            insert_event_rows(session, rows=mixed, received_at=T0)
            assert counts(session) == {"L1": 3, "L2": 2, "L3": 0}

    def test_timestamps_round_trip_as_aware_utc(self, db: Database) -> None:
        """Any offset goes in; the same instant comes out as aware UTC, microseconds kept."""
        moments = {
            "utc": datetime(2026, 1, 15, 10, 0, 0, 123456, tzinfo=UTC),
            "plus2": datetime(2026, 7, 15, 10, 0, tzinfo=timezone(timedelta(hours=2))),
            "prague": datetime(2026, 3, 29, 3, 30, tzinfo=PRAGUE),
            "minus": datetime(
                2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-9))
            ),
            "old": datetime(999, 5, 1, 12, 0, tzinfo=UTC),
        }
        received = datetime(2026, 2, 1, 8, 0, tzinfo=timezone(timedelta(hours=1)))
        with db.session() as session:
            _leads(session, "L1")
            rows = [_row(name, at=at) for name, at in moments.items()]
            insert_event_rows(session, rows=rows, received_at=received)
        stored = _stored(db)
        for name, at in moments.items():
            assert stored[name].occurred_at == at, name
            assert stored[name].occurred_at.utcoffset() == timedelta(0), name
            assert stored[name].received_at == received
        assert stored["utc"].occurred_at.microsecond == 123456

    def test_naive_datetime_is_refused(self, db: Database) -> None:
        """The bulk path refuses naive datetimes like the UTCDateTime column does: a time
        without a zone is never guessed (as local time or UTC)."""
        with db.session() as session:
            _leads(session, "L1")
            with pytest.raises(ValueError, match="naive datetime"):
                insert_event_rows(
                    session, rows=[_row("e1", at=datetime(2026, 1, 15, 10, 0))], received_at=T0
                )
            with pytest.raises(ValueError, match="naive datetime"):
                insert_event_rows(
                    session, rows=[_row("e2")], received_at=datetime(2026, 1, 15, 10, 0)
                )

    def test_bulk_and_orm_rows_compare_as_times(self, db: Database) -> None:
        """Rows written by the bulk path and by the ORM order and filter together by time,
        including a year below 1000 and values exactly on the filter boundary."""
        with db.session() as session:
            _leads(session, "L1")
            insert_event_rows(
                session,
                rows=[
                    _row("bulk-old", at=datetime(999, 1, 1, tzinfo=UTC)),
                    _row("bulk-edge", at=T0),
                    _row("bulk-after", at=T0 + timedelta(microseconds=1)),
                ],
                received_at=T0,
            )
            session.add(
                Event(
                    event_id="orm-mid",
                    lead_id="L1",
                    type="email.opened",
                    occurred_at=T0 - timedelta(hours=1),
                    properties={},
                    received_at=T0,
                )
            )
        with db.session() as session:
            records = load_event_records(session, until=T0)["L1"]
            assert [r.id for r in records] == ["bulk-old", "orm-mid", "bulk-edge"]

    def test_properties_round_trip_with_unicode(self, db: Database) -> None:
        """Nested JSON properties with Czech text and emoji are stored exactly."""
        props = {"title": "Žluťoučký kůň 🐎", "tags": ["á", "😀"], "n": 2, "ok": True, "none": None}
        with db.session() as session:
            _leads(session, "L1")
            insert_event_rows(
                session,
                rows=[("ü-1", "L1", "form.submitted", T0, "web", "Jaro 🌷", props)],
                received_at=T0,
            )
        event = _stored(db)["ü-1"]
        assert (event.properties, event.channel, event.campaign) == (props, "web", "Jaro 🌷")


class TestRecordEvent:
    """record_event stores one event for the lead it names (id, email or alias)."""

    def test_by_email_any_case_and_idempotent(self, db: Database) -> None:
        """The lead is found by email in any case; the same event twice is stored once."""
        data = EventCreate(
            event_id="e1",
            email="L1@ACME.cz",
            type="email.opened",
            occurred_at=T0,
        )
        with db.session() as session:
            _leads(session, "L1")
            assert record_event(session, data=data, received_at=T0) == ("e1", True)
            assert record_event(session, data=data, received_at=T0) == ("e1", False)
            assert _count(session) == 1
        assert _stored(db)["e1"].lead_id == "L1"

    def test_alias_resolves_to_the_surviving_lead(self, db: Database) -> None:
        """An event for a merged lead's old id lands on the lead it was merged into."""
        with db.session() as session:
            _leads(session, "L1")
            session.add(LeadAlias(alias="old-id", lead_id="L1", created_at=T0))
            session.flush()
            data = EventCreate(lead_id="old-id", type="page.viewed", occurred_at=T0)
            event_id, stored = record_event(session, data=data, received_at=T0)
            assert stored is True
            assert event_id == data.resolved_event_id()
            assert event_id.startswith("h_")
        assert _stored(db)[event_id].lead_id == "L1"

    def test_unknown_lead_is_not_found(self, db: Database) -> None:
        """An event for no known lead is NotFoundError and stores nothing."""
        with db.session() as session:
            data = EventCreate(lead_id="ghost", type="page.viewed", occurred_at=T0)
            with pytest.raises(NotFoundError, match="ghost"):
                record_event(session, data=data, received_at=T0)
            assert _count(session) == 0


class TestLoadEventRecords:
    """load_event_records groups events by lead, oldest first, optionally up to a time."""

    def test_grouped_ordered_and_filtered(self, db: Database) -> None:
        """Each lead gets its events in time order; lead_ids and until narrow the result."""
        with db.session() as session:
            _leads(session, "L1", "L2")
            insert_event_rows(
                session,
                rows=[
                    _row("late", "L1", T0 + timedelta(days=2)),
                    _row("early", "L1", T0, page="/ceník"),
                    _row("other", "L2", T0 + timedelta(days=1)),
                ],
                received_at=T0,
            )
        with db.session() as session:
            everything = load_event_records(session)
            assert {lead: [r.id for r in records] for lead, records in everything.items()} == {
                "L1": ["early", "late"],
                "L2": ["other"],
            }
            early = everything["L1"][0]
            assert (early.type, early.ts, early.properties) == (
                "email.opened",
                T0,
                {"page": "/ceník"},
            )
            only_l1 = load_event_records(session, lead_ids=["L1"], until=T0 + timedelta(days=1))
            assert {lead: [r.id for r in rs] for lead, rs in only_l1.items()} == {"L1": ["early"]}

    def test_records_read_what_the_orm_reads(self, db: Database) -> None:
        """Read below the ORM, every field decodes as the ORM columns do: aware UTC
        times (an event sent with +02:00), nested and unicode JSON, integers beyond 64
        bits, channel and campaign."""
        odd = {"n": 2**70, "nested": {"a": [1, 2.5, None]}, "text": "Žluťoučký 🐎"}
        zoned = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
        with db.session() as session:
            _leads(session, "L1")
            rows: list[EventRow] = [
                ("a", "L1", "page.viewed", zoned, "web", "Jaro 🌷", odd),
                ("b", "L1", "email.opened", T0, None, None, {}),
            ]
            insert_event_rows(session, rows=rows, received_at=T0)
        with db.session() as session:
            records = load_event_records(session, lead_ids=["L1"])["L1"]
            stored = {event.event_id: event for event in session.scalars(select(Event))}
        for record in records:
            event = stored[record.id]
            assert (record.type, record.channel, record.campaign) == (
                event.type,
                event.channel,
                event.campaign,
            )
            assert record.ts == event.occurred_at and record.ts.tzinfo is UTC
            assert dict(record.properties) == event.properties
        assert [r.ts for r in records] == sorted([zoned, T0])
        assert records[[r.id for r in records].index("a")].properties == odd
