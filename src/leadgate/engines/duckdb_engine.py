"""Run a compiled model on DuckDB over Parquet/CSV files, pandas frames or Arrow tables.

Inputs become three views (``events``, ``leads``, ``accounts``) with normalised
types: CSV files are read as text except the columns the records define as typed
(``ts`` as a UTC timestamp, ``do_not_email``/``do_not_call`` as booleans,
``employees`` as an integer, ``annual_revenue`` and ``predicted`` as numbers), so a
CSV cell means what the evaluator would see for the same text. Timestamps without a
zone are UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from leadgate.common.sql import quote_ident, quote_text
from leadgate.engines.base import (
    CSV_TYPES,
    REQUIRED_COLUMNS,
    QueryEngine,
    TableSource,
    first_line,
    run_in_thread,
)
from leadgate.engines.compiler import (
    BOOL,
    FLOAT,
    INT,
    JSON,
    NULL,
    RUNTIME_UNSUPPORTED,
    TEXT,
    TIMESTAMP,
    CompiledQuery,
    compile_model,
)
from leadgate.exceptions import LeadgateError, UnsupportedConstructError
from leadgate.scoring.nodes import ScoringModel

__all__ = ["CSV_TYPES", "REQUIRED_COLUMNS", "DuckDBEngine", "TableSource", "kind_of_type"]

_INT_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}


def kind_of_type(type_name: str) -> str:
    """The compiler's kind for a DuckDB column type."""
    name = type_name.upper()
    if name == "VARCHAR" or name.startswith("ENUM("):
        return TEXT
    if name == "BOOLEAN":
        return BOOL
    if name in _INT_TYPES:
        return INT
    if name in ("FLOAT", "DOUBLE") or name.startswith("DECIMAL"):
        return FLOAT
    if name == "JSON":
        return JSON
    if name in ('"NULL"', "NULL", "SQLNULL"):
        return NULL
    if name.startswith("TIMESTAMP") or name == "DATE":
        return TIMESTAMP
    return f"unsupported:{type_name}"


class DuckDBEngine(QueryEngine):
    """One in-process DuckDB database holding the three input views."""

    name = "duckdb"

    def __init__(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        super().__init__()
        self.con = connection if connection is not None else duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            self.con.execute("SET memory_limit = ?", [memory_limit])

    def close(self) -> None:
        self.con.close()

    # -- inputs -----------------------------------------------------------------------------
    def register(self, role: str, source: TableSource) -> None:
        """Make ``source`` the ``events``, ``leads``, ``accounts`` or ``adjustments`` relation."""
        if role not in REQUIRED_COLUMNS:
            raise ValueError(f"unknown input {role!r}")
        raw = f"{role}__raw"
        label = role
        typed: Mapping[str, str] = {}
        try:
            if isinstance(source, (str, Path)):
                path = Path(source)
                label = str(path)
                if not path.is_file():
                    raise LeadgateError(f"{role} file {path} does not exist")
                suffix = path.suffix.lower()
                if suffix in (".parquet", ".pq"):
                    self.con.execute(
                        f"CREATE OR REPLACE VIEW {_q(raw)} AS "
                        f"SELECT * FROM read_parquet({_literal(str(path))})"
                    )
                elif suffix in (".csv", ".tsv", ".txt"):
                    self.con.execute(
                        f"CREATE OR REPLACE VIEW {_q(raw)} AS SELECT * FROM "
                        f"read_csv({_literal(str(path))}, header = true, all_varchar = true)"
                    )
                    typed = CSV_TYPES[role]
                else:
                    raise LeadgateError(
                        f"{role} file {path}: unknown format {suffix or '(none)'}; "
                        "use .parquet or .csv"
                    )
            else:
                self.con.register(raw, source)
            columns = self._describe(raw)
        except duckdb.Error as exc:
            raise LeadgateError(f"cannot read {role} from {label}: {first_line(exc)}") from None
        self.require_columns(role, label, columns)
        select = []
        for name, type_name in columns.items():
            kind = kind_of_type(type_name)
            expr = _q(name)
            if name in typed:
                expr = f"CAST({_q(name)} AS {typed[name]})"
            elif role == "events" and name == "ts" and kind == TEXT:
                expr = f"CAST({_q(name)} AS TIMESTAMPTZ)"
            elif type_name.upper().startswith("ENUM("):
                expr = f"CAST({_q(name)} AS VARCHAR)"
            select.append(f"{expr} AS {_q(name)}")
        self.con.execute(
            f"CREATE OR REPLACE VIEW {_q(role)} AS SELECT {', '.join(select)} FROM {_q(raw)}"
        )
        self._registered[role] = label

    def _describe(self, relation: str) -> dict[str, str]:
        rows = self.con.execute(f"DESCRIBE {_q(relation)}").fetchall()
        return {str(row[0]): str(row[1]) for row in rows}

    def describe(self, role: str) -> dict[str, str]:
        return self._describe(role)

    def kind_of(self, type_name: str) -> str:
        return kind_of_type(type_name)

    def fetch_one(self, sql: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] = self.con.execute(sql).fetchall()[0]
        return row

    def relation(self, role: str) -> str:
        return _q(role)

    # -- running ----------------------------------------------------------------------------
    def compile(self, model: ScoringModel, as_of: datetime) -> CompiledQuery:
        return compile_model(model, as_of=as_of, schema=self.schema(), dialect="duckdb")

    def execute(
        self, query: CompiledQuery, *, progress: Callable[[float], None] | None = None
    ) -> pa.Table:
        """Run a compiled query; ``progress`` receives a percentage now and then."""

        def poll() -> float:
            try:
                return float(self.con.query_progress())
            except (duckdb.Error, AttributeError):
                return -1.0

        try:
            return run_in_thread(
                lambda: _to_arrow(self.con.sql(query.sql)), progress=progress, poll=poll, every=0.1
            )
        except duckdb.Error as error:
            message = str(error)
            if RUNTIME_UNSUPPORTED in message:
                detail = message.split(RUNTIME_UNSUPPORTED, 1)[1].splitlines()[0]
                raise UnsupportedConstructError(detail) from None
            if isinstance(error, (duckdb.ConversionException, duckdb.IOException)):
                raise LeadgateError(f"cannot read the input: {first_line(error)}") from None
            raise LeadgateError(f"the duckdb engine failed: {first_line(error)}") from None


def _to_arrow(result: Any) -> pa.Table:
    for name in ("to_arrow_table", "arrow"):
        method = getattr(result, name, None)
        if method is not None:
            table = method()
            if isinstance(table, pa.RecordBatchReader):
                table = table.read_all()
            return table
    raise LeadgateError("this duckdb version cannot return Arrow tables")  # pragma: no cover


_literal = quote_text
_q = quote_ident
