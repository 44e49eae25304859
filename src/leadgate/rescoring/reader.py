"""Read the operational database as Arrow tables for the compiled query.

Rows go from the database into Arrow columns without ORM objects or Python
rows, through ADBC drivers (Arrow Database Connectivity): PostgreSQL's on a
connection of this process, SQLite's in a child process (see
:mod:`leadgate.common.sqlite_arrow` for why). Only what the
model needs is read: the event types and columns it mentions, up to ``as_of``,
and for a recycled (``nurture``) lead only what it did after sales sent it back
(as :func:`leadgate.scorecards.service.counted_events` does for the evaluator).
Custom attributes (JSON on the lead or account row) become one column each,
for the attributes the model names. Score adjustments are read up to ``as_of``
with their revocations, under the same recycling rule as the events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import make_url

from leadgate.common.sql import quote_text
from leadgate.common.sqlite_arrow import read_queries
from leadgate.engines.compiler import (
    BOOL,
    FLOAT,
    INT,
    JSON,
    TEXT,
    TIMESTAMP,
    InputSchema,
    TableSchema,
)
from leadgate.exceptions import LeadgateError
from leadgate.lifecycle import Stage
from leadgate.scoring.nodes import ACCOUNT_FIELDS, LEAD_FIELDS

__all__ = [
    "ADJUSTMENT_TYPES",
    "OperationalTables",
    "attribute_column",
    "empty_adjustments",
    "operational_schema",
    "read_operational",
    "read_tables",
]

#: Built-in lead and account fields, stored as columns of the same names.
_LEAD_COLUMNS = tuple(sorted(LEAD_FIELDS - {"id", "email_domain", "attributes"}))
_ACCOUNT_COLUMNS = tuple(sorted(ACCOUNT_FIELDS - {"id", "attributes"}))
_TYPED = {
    "do_not_email": pa.bool_(),
    "do_not_call": pa.bool_(),
    "employees": pa.int64(),
    "annual_revenue": pa.float64(),
}


#: The ``adjustments`` relation of the compiled query, as read from ``score_adjustments``.
ADJUSTMENT_TYPES: dict[str, pa.DataType] = {
    "lead_id": pa.string(),
    "group_name": pa.string(),
    "points": pa.float64(),
    "at": pa.timestamp("us", tz="UTC"),
    "revoked_at": pa.timestamp("us", tz="UTC"),
}


def empty_adjustments() -> pa.Table:
    """An ``adjustments`` relation without rows."""
    return pa.table({name: pa.array([], kind) for name, kind in ADJUSTMENT_TYPES.items()})


@dataclass(frozen=True)
class OperationalTables:
    """The relations the compiled query reads, plus each lead's stage (for the diff)."""

    events: pa.Table
    leads: pa.Table
    accounts: pa.Table
    stages: pa.Table  # lead_id, stage, stage_changed_at, channel, email
    #: lead_id, group_name, points, at, revoked_at
    adjustments: pa.Table = field(default_factory=empty_adjustments)


def _connect(url: str) -> tuple[str, Any]:
    """What to read from: a SQLite file's path, or an ADBC connection to PostgreSQL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise LeadgateError("rescoring needs a database file, not an in-memory SQLite")
            if not Path(parsed.database).is_file():
                raise LeadgateError(f"database file {parsed.database} does not exist")
            return backend, parsed.database
        if backend == "postgresql":
            import adbc_driver_postgresql.dbapi as pg_adbc

            plain = parsed.set(drivername="postgresql")
            return backend, pg_adbc.connect(plain.render_as_string(hide_password=False))
    except LeadgateError:
        raise
    except Exception as exc:
        raise LeadgateError(f"cannot open the database: {str(exc).splitlines()[0]}") from None
    raise LeadgateError(f"rescoring reads SQLite or PostgreSQL, not {backend}")


def _read(
    source: Any, queries: dict[str, tuple[str, dict[str, pa.DataType]]]
) -> dict[str, pa.Table]:
    """Run the queries and return their rows as Arrow columns of the given types."""
    try:
        if isinstance(source, str):  # a SQLite file: read in a child process
            raw = read_queries(source, {name: sql for name, (sql, _) in queries.items()})
        else:
            raw = {}
            for name, (sql, _) in queries.items():
                with source.cursor() as cursor:
                    cursor.execute(sql)
                    raw[name] = cursor.fetch_arrow_table()
    except LeadgateError:
        raise
    except Exception as exc:
        raise LeadgateError(f"cannot read the database: {str(exc).splitlines()[0]}") from None
    tables = {}
    for name, table in raw.items():
        types = queries[name][1]
        columns = []
        for column_name in table.column_names:
            column = table.column(column_name)
            wanted = types.get(column_name)
            if wanted is not None and column.type != wanted:
                column = _cast(column, wanted)
            columns.append(column)
        tables[name] = pa.table(columns, names=table.column_names)
    return tables


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


_text = quote_text


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
    **{name: _TYPED.get(name, pa.string()) for name in _LEAD_COLUMNS},
    "attributes": pa.string(),
    "predicted": pa.float64(),
    "stage": pa.string(),
    "stage_changed_at": pa.timestamp("us", tz="UTC"),
}
_ACCOUNT_TYPES: dict[str, pa.DataType] = {
    "account_id": pa.string(),
    **{name: _TYPED.get(name, pa.string()) for name in _ACCOUNT_COLUMNS},
    "attributes": pa.string(),
}


def operational_schema(
    *, lead_attributes: Iterable[str] = (), account_attributes: Iterable[str] = ()
) -> InputSchema:
    """The layout :func:`read_operational` produces (custom attributes as text until read)."""

    def kinds(types: dict[str, pa.DataType], extra: Iterable[str]) -> TableSchema:
        columns = {
            name: _kind(kind)
            for name, kind in types.items()
            if name not in ("attributes", "stage", "stage_changed_at")
        }
        return TableSchema({**columns, **dict.fromkeys(extra, TEXT)})

    events = {name: _kind(kind) for name, kind in _EVENT_TYPES.items()}
    events["properties"] = JSON
    return InputSchema(
        TableSchema(events),
        kinds(_LEAD_TYPES, lead_attributes),
        kinds(_ACCOUNT_TYPES, account_attributes),
        kinds(ADJUSTMENT_TYPES, ()),
    )


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return BOOL
    if pa.types.is_integer(arrow_type):
        return INT
    if pa.types.is_floating(arrow_type):
        return FLOAT
    if pa.types.is_timestamp(arrow_type):
        return TIMESTAMP
    return TEXT


def read_operational(
    url: str,
    *,
    as_of: datetime,
    event_types: Iterable[str],
    event_columns: Iterable[str] = ("event_id", "channel", "campaign", "properties"),
    lead_attributes: Iterable[str] = (),
    account_attributes: Iterable[str] = (),
    since_recycling: bool = True,
) -> OperationalTables:
    """Events (only ``event_columns`` beyond lead_id, type and ts), leads (with
    predicted probabilities), accounts and score adjustments as Arrow tables.

    ``since_recycling=False`` keeps a recycled lead's whole history (a replay
    of the past needs it; scoring now does not)."""
    backend = make_url(url).get_backend_name()
    tables = read_tables(url, _queries(backend, as_of, event_types, event_columns))
    leads = tables["leads"]
    stages = leads.select(["lead_id", "stage", "stage_changed_at", "channel", "email"])
    events = tables["events"]
    adjustments = tables["adjustments"]
    if since_recycling:
        events = _since_recycling(events, stages, "ts")
        adjustments = _since_recycling(adjustments, stages, "at")
    leads = _with_attributes(
        leads.drop_columns(["stage", "stage_changed_at"]), lead_attributes, "lead"
    )
    accounts = _with_attributes(tables["accounts"], account_attributes, "account")
    return OperationalTables(
        events=events, leads=leads, accounts=accounts, stages=stages, adjustments=adjustments
    )


def read_tables(
    url: str, queries: dict[str, tuple[str, dict[str, pa.DataType]]]
) -> dict[str, pa.Table]:
    """Run ``{name: (sql, {column: arrow type})}`` on the database; Arrow tables by name."""
    _, source = _connect(url)
    try:
        return _read(source, queries)
    finally:
        if not isinstance(source, str):
            source.close()


def _queries(
    backend: str, as_of: datetime, event_types: Iterable[str], event_columns: Iterable[str]
) -> dict[str, tuple[str, dict[str, pa.DataType]]]:
    moment = as_of.astimezone(UTC)
    if backend == "sqlite":
        cutoff = _text(moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"))
        json_text = "{}"
    else:
        cutoff = f"{_text(moment.isoformat())}::timestamptz"
        json_text = "CAST({} AS TEXT)"
    types = sorted(set(event_types))
    type_filter = f"type IN ({', '.join(_text(t) for t in types)})" if types else "1 = 0"
    wanted = [
        name
        for name in ("event_id", "channel", "campaign", "properties")
        if name in set(event_columns)
    ]
    extra = "".join(
        f", {json_text.format(name)} AS {name}" if name == "properties" else f", {name}"
        for name in wanted
    )
    return {
        "leads": (
            "SELECT l.id AS lead_id, l.account_id, "
            + ", ".join(f"l.{name}" for name in _LEAD_COLUMNS)
            + f", {json_text.format('l.attributes')} AS attributes, "
            "p.probability AS predicted, l.stage, l.stage_changed_at "
            "FROM leads l LEFT JOIN predictions p ON p.lead_id = l.id",
            _LEAD_TYPES,
        ),
        "events": (
            f"SELECT lead_id, type, occurred_at AS ts{extra} FROM events "
            f"WHERE occurred_at <= {cutoff} AND {type_filter}",
            _EVENT_TYPES,
        ),
        "accounts": (
            "SELECT a.id AS account_id, "
            + ", ".join(f"a.{name}" for name in _ACCOUNT_COLUMNS)
            + f", {json_text.format('a.attributes')} AS attributes FROM accounts a",
            _ACCOUNT_TYPES,
        ),
        "adjustments": (
            "SELECT lead_id, group_name, points, at, revoked_at FROM score_adjustments "
            f"WHERE at <= {cutoff} ORDER BY lead_id, at, id",
            ADJUSTMENT_TYPES,
        ),
    }


def _since_recycling(rows: pa.Table, stages: pa.Table, moment: str) -> pa.Table:
    """Drop what a recycled (nurture) lead did (events, by ``ts``) or was given (score
    adjustments, by ``at``) up to the moment it was recycled."""
    recycled = stages.filter(pc.equal(stages.column("stage"), Stage.NURTURE.value))
    if recycled.num_rows == 0 or rows.num_rows == 0:
        return rows
    position = pc.index_in(rows.column("lead_id"), value_set=recycled.column("lead_id"))
    since = pc.take(recycled.column("stage_changed_at"), position)
    keep = pc.or_kleene(pc.is_null(since), pc.greater(rows.column(moment), since))
    return rows.filter(keep)
