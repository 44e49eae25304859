"""What every engine does the same way: input checks, column kinds, key checks, running.

An engine subclass says how to describe a registered relation, how to run one
small query, and how to run the compiled query; the rules (which columns are
required, what ``ts`` and ``properties`` must be, when a key is refused) live
here once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeAlias

import pyarrow as pa

from leadgate.common.sql import quote_ident
from leadgate.engines.compiler import (
    ADJUSTMENT_COLUMNS,
    JSON,
    NULL,
    TEXT,
    TIMESTAMP,
    CompiledQuery,
    InputSchema,
    TableSchema,
    check_adjustments,
)
from leadgate.exceptions import LeadgateError
from leadgate.scoring.nodes import ScoringModel

__all__ = [
    "CSV_TYPES",
    "REQUIRED_COLUMNS",
    "QueryEngine",
    "TableSource",
    "first_line",
    "run_in_thread",
]

#: A file path (.parquet/.csv), a pyarrow Table or RecordBatchReader, or a pandas DataFrame.
TableSource: TypeAlias = Any

REQUIRED_COLUMNS = {
    "events": ("lead_id", "type", "ts"),
    "leads": ("lead_id",),
    "accounts": ("account_id",),
    "adjustments": ADJUSTMENT_COLUMNS,
}
#: Typed columns of CSV inputs (everything else stays text, as the evaluator reads CSV).
CSV_TYPES = {
    "events": {"ts": "TIMESTAMPTZ"},
    "leads": {"do_not_email": "BOOLEAN", "do_not_call": "BOOLEAN", "predicted": "DOUBLE"},
    "accounts": {"employees": "BIGINT", "annual_revenue": "DOUBLE"},
    "adjustments": {"points": "DOUBLE", "at": "TIMESTAMPTZ", "revoked_at": "TIMESTAMPTZ"},
}
_KEYS = {"leads": "lead_id", "accounts": "account_id"}


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class QueryEngine:
    """Base of the engines that run a compiled query over the registered relations
    (events, leads, accounts, and optionally score adjustments)."""

    name = "abstract"

    def __init__(self) -> None:
        self._registered: dict[str, str] = {}  # role -> where it was read from

    # -- what a subclass provides -----------------------------------------------------------
    def register(self, role: str, source: TableSource) -> None:
        raise NotImplementedError

    def compile(self, model: ScoringModel, as_of: datetime) -> CompiledQuery:
        raise NotImplementedError

    def execute(
        self, query: CompiledQuery, *, progress: Callable[[float], None] | None = None
    ) -> pa.Table:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def describe(self, role: str) -> dict[str, str]:
        """Column name -> the engine's type name, for a registered relation."""
        raise NotImplementedError

    def kind_of(self, type_name: str) -> str:
        """The compiler's kind for one of the engine's type names."""
        raise NotImplementedError

    def fetch_one(self, sql: str) -> tuple[Any, ...]:
        """The single row of a small query."""
        raise NotImplementedError

    def relation(self, role: str) -> str:
        """The quoted name of a registered relation, for SQL."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def require_columns(self, role: str, label: str, columns: Iterable[str]) -> None:
        present = list(columns)
        missing = [name for name in REQUIRED_COLUMNS[role] if name not in present]
        if missing:
            raise LeadgateError(
                f"{role} input {label} has no column {missing[0]!r} "
                f"(found: {', '.join(present) or 'none'})"
            )

    def schema(self) -> InputSchema:
        """Column kinds of the registered inputs."""
        if "events" not in self._registered or "leads" not in self._registered:
            raise LeadgateError("register events and leads before rescoring")
        tables: dict[str, TableSchema] = {}
        for role, label in self._registered.items():
            try:
                columns = self.describe(role)
            except LeadgateError:
                raise
            except Exception as exc:
                raise LeadgateError(f"cannot read {role} from {label}: {first_line(exc)}") from None
            kinds = {name: self.kind_of(type_name) for name, type_name in columns.items()}
            if role == "events" and "properties" in kinds:
                if kinds["properties"] not in (TEXT, JSON, NULL):
                    raise LeadgateError(
                        "events column 'properties' must hold JSON text, "
                        f"not {columns['properties']}"
                    )
                kinds["properties"] = JSON
            if role == "events" and kinds["ts"] != TIMESTAMP:
                raise LeadgateError(f"events column 'ts' must be a timestamp, not {columns['ts']}")
            tables[role] = TableSchema(kinds)
            if role == "adjustments":
                check_adjustments(tables[role])
        return InputSchema(
            events=tables["events"],
            leads=tables["leads"],
            accounts=tables.get("accounts"),
            adjustments=tables.get("adjustments"),
        )

    def validate(self, roles: Iterable[str] = ("leads", "accounts")) -> None:
        """Refuse duplicate or missing keys: each would change the meaning of the join."""
        for role in roles:
            if role not in self._registered:
                continue
            key = self.quote(_KEYS[role])
            try:
                rows, distinct, present = self.fetch_one(
                    f"SELECT count(*), count(DISTINCT {key}), count({key}) "
                    f"FROM {self.relation(role)}"
                )
            except Exception as exc:
                raise LeadgateError(
                    f"cannot read {role} from {self._registered[role]}: {first_line(exc)}"
                ) from None
            if present != rows:
                raise LeadgateError(f"{role}: {rows - present} row(s) have no {_KEYS[role]}")
            if distinct != rows:
                raise LeadgateError(f"{role}: {rows - distinct} duplicate {_KEYS[role]} value(s)")

    def quote(self, name: str) -> str:
        return quote_ident(name)

    def rescore(
        self,
        model: ScoringModel,
        *,
        as_of: datetime,
        events: TableSource | None = None,
        leads: TableSource | None = None,
        accounts: TableSource | None = None,
        adjustments: TableSource | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> pa.Table:
        """Register the given inputs (if any), compile, run and check the keys."""
        from leadgate.engines.checks import run_checked

        for role, source in (
            ("events", events),
            ("leads", leads),
            ("accounts", accounts),
            ("adjustments", adjustments),
        ):
            if source is not None:
                self.register(role, source)
        return run_checked(self, self.compile(model, as_of), progress=progress)


def run_in_thread(
    work: Callable[[], pa.Table],
    *,
    progress: Callable[[float], None] | None,
    poll: Callable[[], float],
    every: float,
) -> pa.Table:
    """Run ``work`` in a thread, reporting ``poll()`` (a percentage, < 0 for unknown)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["table"] = work()
        except BaseException as exc:  # handed to the calling thread
            result["error"] = exc

    if progress is None:
        run()
    else:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(every)
            done = poll()
            if done >= 0:
                progress(done)
    error = result.get("error")
    if error is not None:
        raise error
    table: pa.Table = result["table"]
    return table
