"""Run a compiled model on DuckDB over Parquet/CSV files, pandas frames or Arrow tables.

Inputs become three views (``events``, ``leads``, ``accounts``) with normalised
types: CSV files are read as text except the columns the records define as typed
(``ts`` as a UTC timestamp, ``do_not_email``/``do_not_call`` as booleans,
``employees`` as an integer, ``annual_revenue`` and ``predicted`` as numbers), so a
CSV cell means what the evaluator would see for the same text. Timestamps without a
zone are UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import pyarrow as pa

from leadgate.engines.checks import run_checked
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
    InputSchema,
    TableSchema,
    compile_model,
)
from leadgate.exceptions import LeadgateError, UnsupportedConstructError
from leadgate.scoring.nodes import ScoringModel

__all__ = ["CSV_TYPES", "REQUIRED_COLUMNS", "DuckDBEngine", "TableSource", "kind_of_type"]

#: A file path (.parquet/.csv), a pyarrow Table or RecordBatchReader, or a pandas DataFrame.
TableSource: TypeAlias = Any

REQUIRED_COLUMNS = {
    "events": ("lead_id", "type", "ts"),
    "leads": ("lead_id",),
    "accounts": ("account_id",),
}
#: Typed columns of CSV inputs (everything else stays text, as the evaluator reads CSV).
CSV_TYPES = {
    "events": {"ts": "TIMESTAMPTZ"},
    "leads": {"do_not_email": "BOOLEAN", "do_not_call": "BOOLEAN", "predicted": "DOUBLE"},
    "accounts": {"employees": "BIGINT", "annual_revenue": "DOUBLE"},
}
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


class DuckDBEngine:
    """One in-process DuckDB database holding the three input views."""

    name = "duckdb"

    def __init__(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.con = connection if connection is not None else duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            self.con.execute("SET memory_limit = ?", [memory_limit])
        self._registered: dict[str, str] = {}

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- inputs -----------------------------------------------------------------------------
    def register(self, role: str, source: TableSource) -> None:
        """Make ``source`` the ``events``, ``leads`` or ``accounts`` relation."""
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
            raise LeadgateError(f"cannot read {role} from {label}: {_first_line(exc)}") from None
        missing = [name for name in REQUIRED_COLUMNS[role] if name not in columns]
        if missing:
            raise LeadgateError(
                f"{role} input {label} has no column {missing[0]!r} "
                f"(found: {', '.join(columns) or 'none'})"
            )
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

    def schema(self) -> InputSchema:
        """Column kinds of the registered inputs."""
        if "events" not in self._registered or "leads" not in self._registered:
            raise LeadgateError("register events and leads before rescoring")
        tables: dict[str, TableSchema] = {}
        for role in self._registered:
            try:
                columns = self._describe(role)
            except duckdb.Error as exc:
                raise LeadgateError(
                    f"cannot read {role} from {self._registered[role]}: {_first_line(exc)}"
                ) from None
            kinds = {name: kind_of_type(type_name) for name, type_name in columns.items()}
            if role == "events" and "properties" in kinds:
                if kinds["properties"] not in (TEXT, JSON, NULL):
                    found = columns["properties"]
                    raise LeadgateError(
                        f"events column 'properties' must hold JSON text, not {found}"
                    )
                kinds["properties"] = JSON
            if role == "events" and kinds["ts"] != TIMESTAMP:
                raise LeadgateError(f"events column 'ts' must be a timestamp, not {columns['ts']}")
            tables[role] = TableSchema(kinds)
        return InputSchema(
            events=tables["events"], leads=tables["leads"], accounts=tables.get("accounts")
        )

    def validate(self, roles: Iterable[str] = ("leads", "accounts")) -> None:
        """Refuse duplicate or missing keys: each would change the meaning of the join."""
        keys = {"leads": "lead_id", "accounts": "account_id"}
        checks = [(role, keys[role]) for role in roles if role in self._registered]
        for role, key in checks:
            try:
                rows, distinct, present = self.con.execute(
                    f"SELECT count(*), count(DISTINCT {_q(key)}), count({_q(key)}) FROM {_q(role)}"
                ).fetchall()[0]
            except duckdb.Error as exc:
                raise LeadgateError(
                    f"cannot read {role} from {self._registered[role]}: {_first_line(exc)}"
                ) from None
            if present != rows:
                raise LeadgateError(f"{role}: {rows - present} row(s) have no {key}")
            if distinct != rows:
                raise LeadgateError(f"{role}: {rows - distinct} duplicate {key} value(s)")

    # -- running ----------------------------------------------------------------------------
    def compile(self, model: ScoringModel, as_of: datetime) -> CompiledQuery:
        return compile_model(model, as_of=as_of, schema=self.schema(), dialect="duckdb")

    def execute(
        self, query: CompiledQuery, *, progress: Callable[[float], None] | None = None
    ) -> pa.Table:
        """Run a compiled query; ``progress`` receives a percentage now and then."""
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["table"] = _to_arrow(self.con.sql(query.sql))
            except BaseException as exc:  # handed to the calling thread
                result["error"] = exc

        if progress is None:
            run()
        else:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            while worker.is_alive():
                worker.join(0.1)
                try:
                    done = float(self.con.query_progress())
                except (duckdb.Error, AttributeError):
                    done = -1.0
                if done >= 0:
                    progress(done)
        error = result.get("error")
        if error is not None:
            if isinstance(error, duckdb.Error):
                message = str(error)
                if RUNTIME_UNSUPPORTED in message:
                    detail = message.split(RUNTIME_UNSUPPORTED, 1)[1].splitlines()[0]
                    raise UnsupportedConstructError(detail) from None
                if isinstance(error, (duckdb.ConversionException, duckdb.IOException)):
                    raise LeadgateError(f"cannot read the input: {_first_line(error)}") from None
                raise LeadgateError(f"the duckdb engine failed: {_first_line(error)}") from None
            raise error
        table: pa.Table = result["table"]
        return table

    def rescore(
        self,
        model: ScoringModel,
        *,
        as_of: datetime,
        events: TableSource | None = None,
        leads: TableSource | None = None,
        accounts: TableSource | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> pa.Table:
        """Register the given inputs (if any), compile, validate and run."""
        for role, source in (("events", events), ("leads", leads), ("accounts", accounts)):
            if source is not None:
                self.register(role, source)
        query = self.compile(model, as_of)
        return run_checked(self, query, progress=progress)


def _to_arrow(result: Any) -> pa.Table:
    for name in ("to_arrow_table", "arrow"):
        method = getattr(result, name, None)
        if method is not None:
            table = method()
            if isinstance(table, pa.RecordBatchReader):
                table = table.read_all()
            return table
    raise LeadgateError("this duckdb version cannot return Arrow tables")  # pragma: no cover


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
