"""Event storage: idempotent bulk inserts and per-lead reads for scoring."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgate.events.models import Event
from leadgate.events.schemas import EventCreate
from leadgate.exceptions import NotFoundError
from leadgate.leads.service import find_lead
from leadgate.scoring.records import EventRecord

__all__ = ["EventRow", "insert_event_rows", "load_event_records", "record_event"]

#: ``(event_id, lead_id, type, occurred_at, channel, campaign, properties)``
EventRow = tuple[str, str, str, datetime, str | None, str | None, dict[str, Any]]

_EVENTS = cast(Table, Event.__table__)
_COLUMNS = ("event_id", "lead_id", "type", "occurred_at", "channel", "campaign", "properties")


def _insert_ignoring_duplicates(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_EVENTS).on_conflict_do_nothing(index_elements=["event_id"])
    if dialect == "sqlite":
        return sqlite.insert(_EVENTS).on_conflict_do_nothing(index_elements=["event_id"])
    raise NotImplementedError(f"no idempotent insert for {dialect}")


def _sqlite_time(value: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores (always with microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


_SQLITE_INSERT = (
    "INSERT INTO events (event_id, lead_id, type, occurred_at, channel, campaign, properties, "
    "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)


def insert_event_rows(session: Session, *, rows: Sequence[EventRow], received_at: datetime) -> int:
    """Insert events, skipping ids already stored; returns how many were new.

    This is the bulk path of imports and ingest. On SQLite it hands pre-encoded
    tuples straight to the driver (twice as fast as going through the ORM types);
    the encoding matches what the ORM columns read back.
    """
    if not rows:
        return 0
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        received = _sqlite_time(received_at)
        dumps = json.dumps
        params = [
            (row[0], row[1], row[2], _sqlite_time(row[3]), row[4], row[5], dumps(row[6]), received)
            for row in rows
        ]
        return int(connection.exec_driver_sql(_SQLITE_INSERT, params).rowcount)
    statement = _insert_ignoring_duplicates(session)
    dict_params = [dict(zip(_COLUMNS, row, strict=True), received_at=received_at) for row in rows]
    return int(connection.execute(statement, dict_params).rowcount)


def record_event(session: Session, *, data: EventCreate, received_at: datetime) -> tuple[str, bool]:
    """Store one event for the lead it names; returns (event_id, newly stored)."""
    ref = data.lead_id or data.email or ""
    lead = find_lead(session, ref=ref)
    if lead is None:
        raise NotFoundError(f"unknown lead {ref!r}")
    event_id = data.resolved_event_id()
    row: EventRow = (
        event_id,
        lead.id,
        data.type,
        data.occurred_at,
        data.channel,
        data.campaign,
        data.properties,
    )
    return event_id, insert_event_rows(session, rows=[row], received_at=received_at) == 1


def load_event_records(
    session: Session, *, lead_ids: Iterable[str] | None = None, until: datetime | None = None
) -> dict[str, list[EventRecord]]:
    """Events grouped by lead as evaluator records, oldest first."""
    query = select(
        Event.lead_id,
        Event.event_id,
        Event.type,
        Event.occurred_at,
        Event.properties,
        Event.channel,
        Event.campaign,
    ).order_by(Event.lead_id, Event.occurred_at, Event.event_id)
    if lead_ids is not None:
        query = query.where(Event.lead_id.in_(list(lead_ids)))
    if until is not None:
        query = query.where(Event.occurred_at <= until)
    grouped: dict[str, list[EventRecord]] = defaultdict(list)
    for lead_id, event_id, type_, ts, properties, channel, campaign in session.execute(query):
        grouped[lead_id].append(
            EventRecord(
                id=event_id,
                type=type_,
                ts=ts,
                properties=properties or {},
                channel=channel,
                campaign=campaign,
            )
        )
    return grouped
