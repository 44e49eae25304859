"""Driver-level SQL for the request path's few hot statements.

The ingest path runs a handful of statements per group commit; through the
SQL expression layer each one costs more to build than to execute. These
helpers write them once per dialect (SQLite ``?``, PostgreSQL ``%s``) and hand
the values straight to the driver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

__all__ = ["any_of", "fetch", "json_reader", "time_reader"]


def any_of(dialect: str, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (values)`` as SQL text and its parameters (never empty: an empty
    ``values`` matches nothing)."""
    if not values:
        return "1 = 0", []
    if dialect == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    if dialect == "sqlite":
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)
    raise NotImplementedError(f"no driver SQL for {dialect}")


def fetch(session: Session, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the session's connection (its transaction) and return the rows
    as the driver returns them (plain tuples: no result wrapping per row)."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def time_reader(dialect: str) -> Callable[[Any], datetime]:
    """How a stored time reads back, as the ORM's ``UTCDateTime`` reads it: an aware
    UTC datetime (SQLite stores UTC text, PostgreSQL timestamptz)."""
    return _read_sqlite_time if dialect == "sqlite" else _read_aware_time


def json_reader(dialect: str) -> Callable[[Any], Mapping[str, Any]]:
    """How a stored JSON object reads back (SQLite stores text, PostgreSQL JSONB,
    which the driver decodes); anything but an object reads as ``{}``."""
    return _read_json if dialect == "sqlite" else _read_mapping


def _read_sqlite_time(text: str) -> datetime:
    """The stored UTC text (see ``sqlite_time`` in ``events.service``) as an aware UTC
    datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _read_aware_time(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _read_json(text: str | None) -> Mapping[str, Any]:
    """Stored JSON text; orjson decodes it (json.loads for what orjson refuses, such
    as integers beyond 64 bits)."""
    if not text or text == "{}":
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _read_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
