"""Writing scorecard rows: one row's values, and the upsert the request path runs
for many at once (below the ORM: encoded as the ORM columns store them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import orjson
from sqlalchemy.orm import Session

from leadgate.events.service import sqlite_time
from leadgate.scoring.scorecard import Scorecard

__all__ = ["stored_scorecard", "upsert_scorecards"]


def stored_scorecard(
    card: Scorecard, *, computed_at: datetime, inputs_digest: str | None
) -> dict[str, object]:
    """Column values of a scorecard row."""
    return {
        "lead_id": card.lead_id,
        "model_name": card.model_name,
        "model_version": card.model_version,
        "as_of": card.as_of,
        "scores": card.scores,
        "grade": card.grade,
        "mql": card.mql,
        "breakdown": card.to_dict(),
        "computed_at": computed_at,
        "inputs_digest": inputs_digest,
        "counted_events": card.counted_json().decode(),
    }


def _json(value: object) -> str:
    return orjson.dumps(value).decode("utf-8")


_UPSERT = (
    "INSERT INTO scorecards (lead_id, model_name, model_version, as_of, scores, grade, mql, "
    "breakdown, computed_at, inputs_digest, counted_events) VALUES ({values}) "
    "ON CONFLICT (lead_id) DO UPDATE SET model_name = excluded.model_name, "
    "model_version = excluded.model_version, "
    "as_of = excluded.as_of, scores = excluded.scores, grade = excluded.grade, "
    "mql = excluded.mql, breakdown = excluded.breakdown, computed_at = excluded.computed_at, "
    "inputs_digest = excluded.inputs_digest, counted_events = excluded.counted_events"
)
_SQLITE_UPSERT = _UPSERT.format(values=", ".join(["?"] * 11))
_POSTGRESQL_UPSERT = _UPSERT.format(
    values="%s, %s, %s, %s, %s::jsonb, %s, %s, %s::jsonb, %s, %s, %s"
)


def upsert_scorecards(
    session: Session,
    *,
    cards: Sequence[Scorecard],
    computed_at: datetime,
    inputs_digests: Mapping[str, str],
) -> None:
    """Replace the stored scorecards of these leads (one statement for all of them).

    ``inputs_digests``: each lead's inputs digest as the evaluation read it (see
    :func:`evaluate_to_store`; a lead missing from it is stored as unknown).

    Values are encoded as the ORM columns store them (UTC text on SQLite,
    timestamptz and JSONB on PostgreSQL), as the bulk event insert does; the JSON
    is written by orjson (same values as ``json``, compact, several times faster).
    """
    if not cards:
        return
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no scorecard upsert for {dialect}")
    instants: dict[datetime, object] = {}  # a group's cards share their instant

    def instant(value: datetime) -> object:
        if dialect == "postgresql":
            return value
        known = instants.get(value)
        return known if known is not None else instants.setdefault(value, sqlite_time(value))

    when = instant(computed_at)
    rows = [
        (
            card.lead_id,
            card.model_name,
            card.model_version,
            instant(card.as_of),
            _json(card.scores),
            card.grade,
            card.mql,
            card.to_json().decode(),
            when,
            inputs_digests.get(card.lead_id),
            card.counted_json().decode(),
        )
        for card in cards
    ]
    upsert = _SQLITE_UPSERT if dialect == "sqlite" else _POSTGRESQL_UPSERT
    connection.exec_driver_sql(upsert, rows)
