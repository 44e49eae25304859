"""Read the operational database as Arrow tables for the compiled query.

Rows go from the database into Arrow columns without ORM objects: PostgreSQL
through the ADBC driver (Arrow Database Connectivity, no Python rows at all),
SQLite through the standard ``sqlite3`` module's tuples turned into columns
(see :func:`_connect` for why not a second SQLite library). Only what the
model needs is read: the event types it mentions, up to ``as_of``, and for a
recycled (``nurture``) lead only what it did after sales sent it back (as
:func:`leadgate.scorecards.service.counted_events` does for the evaluator).
Custom attributes (JSON on the lead or account row) become one column each,
for the attributes the model names.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import make_url

from leadgate.exceptions import LeadgateError
from leadgate.lifecycle import Stage

__all__ = ["OperationalTables", "attribute_column", "read_operational"]

_LEAD_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "country",
    "source",
    "channel",
    "campaign",
    "do_not_email",
    "do_not_call",
)
_ACCOUNT_COLUMNS = (
    "domain",
    "name",
    "industry",
    "employees",
    "annual_revenue",
    "country",
    "tier",
    "owner",
)


@dataclass(frozen=True)
class OperationalTables:
    """The three relations, plus each lead's stage (for the diff)."""

    events: pa.Table
    leads: pa.Table
    accounts: pa.Table
    stages: pa.Table  # lead_id, stage, stage_changed_at, channel, email


def _connect(url: str) -> tuple[str, Any]:
    """A fresh connection for reading: Python's sqlite3, or ADBC for PostgreSQL.

    SQLite is read through the same SQLite library that SQLAlchemy uses: a second
    copy of SQLite in one process (as bundled by ADBC's or ConnectorX's wheels)
    breaks SQLite's POSIX locks and was seen here reading stale pages.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise LeadgateError("rescoring needs a database file, not an in-memory SQLite")
            if not Path(parsed.database).is_file():
                raise LeadgateError(f"database file {parsed.database} does not exist")
            return backend, sqlite3.connect(f"file:{parsed.database}?mode=ro", uri=True)
        if backend == "postgresql":
            import adbc_driver_postgresql.dbapi as pg_adbc

            plain = parsed.set(drivername="postgresql")
            return backend, pg_adbc.connect(plain.render_as_string(hide_password=False))
    except LeadgateError:
        raise
    except Exception as exc:
        raise LeadgateError(f"cannot open the database: {str(exc).splitlines()[0]}") from None
    raise LeadgateError(f"rescoring reads SQLite or PostgreSQL, not {backend}")


def _read(connection: Any, sql: str, types: dict[str, pa.DataType]) -> pa.Table:
    """Run ``sql`` and return its rows as Arrow columns of the given ``types``."""
    try:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.execute(sql)
            names = [item[0] for item in cursor.description]
            rows = cursor.fetchall()
            values = list(zip(*rows, strict=True)) if rows else [() for _ in names]
            table = pa.table(
                {
                    name: pa.array(column, type=_sqlite_type(types.get(name)))
                    for name, column in zip(names, values, strict=True)
                }
            )
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                table = cursor.fetch_arrow_table()
    except LeadgateError:
        raise
    except Exception as exc:
        raise LeadgateError(f"cannot read the database: {str(exc).splitlines()[0]}") from None
    columns = []
    for name in table.column_names:
        column = table.column(name)
        wanted = types.get(name)
        if wanted is not None and column.type != wanted:
            column = _cast(column, wanted)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _sqlite_type(wanted: pa.DataType | None) -> pa.DataType | None:
    """The Arrow type of SQLite's Python values for a wanted type (text for timestamps)."""
    if wanted is None:
        return None
    if pa.types.is_boolean(wanted):
        return pa.int64()  # stored as 0 and 1
    return pa.string() if pa.types.is_timestamp(wanted) else wanted


def _cast(column: pa.ChunkedArray, wanted: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_timestamp(wanted):
        if pa.types.is_timestamp(column.type):
            if column.type.tz is None:
                column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
            return column.cast(wanted)
        # SQLite keeps UTC as text without a zone
        return column.cast(pa.string()).cast(pa.timestamp("us")).cast(wanted)
    if (
        pa.types.is_string(wanted)
        and not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
        and column.null_count < len(column)
        and not pa.types.is_integer(column.type)
    ):
        # JSON stored by PostgreSQL (jsonb) arrives as binary or an extension type
        return pa.chunked_array(
            [
                pa.array(
                    [None if v is None else _json_text(v) for v in column.to_pylist()],
                    type=pa.string(),
                )
            ]
        )
    return column.cast(wanted)


def _json_text(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8")
        return text[1:] if text.startswith("\x01") else text
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def attribute_column(raw: Sequence[str | dict[str, Any] | None], key: str, where: str) -> pa.Array:
    """One custom attribute out of JSON documents, as a column of a single type.

    A column has one type: an attribute holding, say, text on some leads and
    numbers on others cannot be compared the evaluator's way in a compiled
    query, so it is refused naming the attribute rather than converted.
    """
    values: list[Any] = []
    kinds: set[str] = set()
    for document in raw:
        if document is None:
            values.append(None)
            continue
        parsed = json.loads(document) if isinstance(document, str) else document
        value = parsed.get(key) if isinstance(parsed, dict) else None
        if value is not None:
            kinds.add(type(value).__name__)
        values.append(value)
    if not kinds:
        return pa.nulls(len(values), type=pa.string())
    if len(kinds) > 1:
        raise LeadgateError(
            f"{where} attribute {key!r} holds values of several types "
            f"({', '.join(sorted(kinds))}); a compiled engine needs one type per attribute: "
            "use `leadgate score`, or store one type"
        )
    kind = kinds.pop()
    types = {"str": pa.string(), "bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}
    if kind not in types:
        raise LeadgateError(
            f"{where} attribute {key!r} holds {kind} values; the compiled engines compare only "
            "text, numbers and booleans"
        )
    return pa.array(values, type=types[kind])


def _with_attributes(table: pa.Table, keys: Iterable[str], where: str) -> pa.Table:
    raw = table.column("attributes").to_pylist()
    for key in sorted(set(keys)):
        table = table.append_column(key, attribute_column(raw, key, where))
    return table.drop_columns(["attributes"])


_EVENT_TYPES = {
    "lead_id": pa.string(),
    "type": pa.string(),
    "ts": pa.timestamp("us", tz="UTC"),
    "event_id": pa.string(),
    "channel": pa.string(),
    "campaign": pa.string(),
    "properties": pa.string(),
}
_LEAD_TYPES: dict[str, pa.DataType] = {
    "lead_id": pa.string(),
    "account_id": pa.string(),
    **{name: pa.string() for name in _LEAD_COLUMNS},
    "do_not_email": pa.bool_(),
    "do_not_call": pa.bool_(),
    "attributes": pa.string(),
    "predicted": pa.float64(),
    "stage": pa.string(),
    "stage_changed_at": pa.timestamp("us", tz="UTC"),
}
_ACCOUNT_TYPES: dict[str, pa.DataType] = {
    "account_id": pa.string(),
    **{name: pa.string() for name in _ACCOUNT_COLUMNS},
    "employees": pa.int64(),
    "annual_revenue": pa.float64(),
    "attributes": pa.string(),
}


def read_operational(
    url: str,
    *,
    as_of: datetime,
    event_types: Iterable[str],
    lead_attributes: Iterable[str] = (),
    account_attributes: Iterable[str] = (),
) -> OperationalTables:
    """Events, leads (with predicted probabilities) and accounts as Arrow tables."""
    backend, connection = _connect(url)
    try:
        return _read_all(
            backend, connection, as_of, event_types, lead_attributes, account_attributes
        )
    finally:
        connection.close()


def _read_all(
    backend: str,
    connection: Any,
    as_of: datetime,
    event_types: Iterable[str],
    lead_attributes: Iterable[str],
    account_attributes: Iterable[str],
) -> OperationalTables:
    moment = as_of.astimezone(UTC)
    if backend == "sqlite":
        cutoff = _text(moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"))
        json_text = "{}"
    else:
        cutoff = f"{_text(moment.isoformat())}::timestamptz"
        json_text = "CAST({} AS TEXT)"
    types = sorted(set(event_types))
    type_filter = f"e.type IN ({', '.join(_text(t) for t in types)})" if types else "1 = 0"
    events = _read(
        connection,
        "SELECT e.lead_id, e.type, e.occurred_at AS ts, e.event_id, e.channel, e.campaign, "
        f"{json_text.format('e.properties')} AS properties "
        "FROM events e JOIN leads l ON l.id = e.lead_id "
        f"WHERE e.occurred_at <= {cutoff} AND {type_filter} "
        f"AND NOT (l.stage = {_text(Stage.NURTURE.value)} "
        "AND e.occurred_at <= l.stage_changed_at)",
        _EVENT_TYPES,
    )
    leads = _read(
        connection,
        "SELECT l.id AS lead_id, l.account_id, "
        + ", ".join(f"l.{name}" for name in _LEAD_COLUMNS)
        + f", {json_text.format('l.attributes')} AS attributes, p.probability AS predicted, "
        "l.stage, l.stage_changed_at FROM leads l LEFT JOIN predictions p ON p.lead_id = l.id",
        _LEAD_TYPES,
    )
    stages = leads.select(["lead_id", "stage", "stage_changed_at", "channel", "email"])
    leads = _with_attributes(
        leads.drop_columns(["stage", "stage_changed_at"]), lead_attributes, "lead"
    )
    accounts = _read(
        connection,
        "SELECT a.id AS account_id, "
        + ", ".join(f"a.{name}" for name in _ACCOUNT_COLUMNS)
        + f", {json_text.format('a.attributes')} AS attributes FROM accounts a",
        _ACCOUNT_TYPES,
    )
    accounts = _with_attributes(accounts, account_attributes, "account")
    return OperationalTables(events=events, leads=leads, accounts=accounts, stages=stages)
