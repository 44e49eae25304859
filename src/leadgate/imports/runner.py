"""Import leads, accounts and events from CSV or JSON Lines.

One file is one transaction: good rows are committed together, bad rows are
reported with their line and reason and written to a rejects file, and a file
that cannot be read at all (encoding, format, header) writes nothing.
Re-importing the same events adds nothing (idempotent on event id).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.common.ids import utcnow
from leadgate.common.text import parse_timestamp
from leadgate.db.engine import Database
from leadgate.events.schemas import check_event_type, derived_event_id
from leadgate.events.service import EventRow, insert_event_rows
from leadgate.exceptions import ImportFileError, LeadgateError
from leadgate.imports.mapping import FIELDS, ImportMapping
from leadgate.imports.readers import detect_format, read_rows
from leadgate.leads.models import Lead, LeadAlias
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead

__all__ = ["ImportReport", "Reject", "import_file"]

_BATCH = 5_000
_SQLITE_CACHE_KIB = 64 * 1024
_NESTED_FIELDS = {"leads": "attributes", "accounts": "attributes", "events": "properties"}


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that was not imported, and why."""

    line: int
    reason: str
    values: dict[str, Any]
    raw: str | None = None


@dataclass
class ImportReport:
    """Counts of one import run."""

    kind: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: str | None = None
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped_already_stored": self.skipped,
            "rejected": self.rejected,
            "rejects_file": self.rejects_path,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds > 0 else None,
            "first_rejects": [{"line": r.line, "reason": r.reason} for r in self.rejects[:20]],
        }


def import_file(
    db: Database,
    *,
    kind: str,
    path: Path,
    mapping: ImportMapping | None = None,
    fmt: str | None = None,
    assume_tz: tzinfo | None = None,
    rejects_path: Path | None = None,
    on_bytes: Callable[[int], None] | None = None,
    actor: str = "import",
) -> ImportReport:
    """Import ``path`` as ``kind`` (leads, accounts or events) in one transaction."""
    if kind not in FIELDS:
        raise ImportFileError(f"unknown import kind {kind!r}; use leads, accounts or events")
    mapping = mapping or ImportMapping()
    tz = assume_tz or mapping.assume_tz
    file_format = detect_format(path, fmt)
    if rejects_path is not None and rejects_path.is_dir():
        raise ImportFileError(f"{rejects_path} is a folder; give the rejects file a file name")
    started = time.perf_counter()
    report = ImportReport(kind=kind, file=str(path))
    header, rows = read_rows(path, file_format, on_bytes=on_bytes)
    if header is not None:
        _check_header(path, kind, header, mapping)
    with db.session() as session:
        restore = _prepare_sqlite(session)
        now = utcnow()
        if kind == "events":
            _import_events(session, rows, mapping, tz, report, now)
        else:
            _import_records(session, kind, rows, mapping, report, now, actor, tz)
        restore()
    report.seconds = time.perf_counter() - started
    if report.rejects:
        target = (
            rejects_path
            or Path.cwd() / f"{path.stem}.rejects{'.csv' if file_format == 'csv' else '.jsonl'}"
        )
        try:
            _write_rejects(target, file_format, header, report.rejects)
        except OSError as exc:
            raise LeadgateError(
                f"the other rows were imported, but the {report.rejected} rejected rows "
                f"cannot be written to {target}: {exc.strerror or exc}"
            ) from None
        report.rejects_path = str(target)
    return report


def _prepare_sqlite(session: Session) -> Callable[[], None]:
    """On SQLite: open the transaction for real and enlarge the page cache for the import.

    pysqlite starts a transaction only before INSERT/UPDATE/DELETE. A SAVEPOINT
    sent first starts one of its own, and releasing it commits: rows would be
    committed one by one, and a file found malformed near its end would leave
    its first rows behind instead of writing nothing.

    A bulk import updates the events indexes all over; a cache larger than the
    2 MiB default keeps those pages in memory. Returns what restores the cache size.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return lambda: None
    raw = connection.connection.dbapi_connection
    if not getattr(raw, "in_transaction", True):
        connection.exec_driver_sql("BEGIN")
    previous = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")

    def restore() -> None:
        connection.exec_driver_sql(f"PRAGMA cache_size = {previous}")

    return restore


def _check_header(path: Path, kind: str, header: list[str], mapping: ImportMapping) -> None:
    present = set(header)
    required, _ = FIELDS[kind]
    missing = [
        mapping.source_for(name)
        for name in sorted(required)
        if mapping.source_for(name) not in present
        and name not in mapping.constants
        and name not in mapping.templates
    ]
    if kind == "events" and not (
        mapping.source_for("lead_id") in present or mapping.source_for("email") in present
    ):
        missing.append(f"{mapping.source_for('lead_id')} or {mapping.source_for('email')}")
    if kind == "accounts" and not (
        mapping.source_for("id") in present or mapping.source_for("domain") in present
    ):
        missing.append(f"{mapping.source_for('id')} or {mapping.source_for('domain')}")
    if missing:
        shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
        raise ImportFileError(
            f"{path}: the header lacks column {missing[0]!r} needed to import {kind} "
            f"(found: {shown}); map columns with --map"
        )


#: (present (target, source) pairs, extra keys, extra keys without the nested one, nested key)
_Plan = tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...], str | None]


class _Splitter:
    """Splits a source row into mapped leadgate fields and the remaining custom values.

    The mapping is resolved once per distinct set of keys (once per file for CSV)
    instead of once per row; the result is the same as resolving it row by row.
    """

    _MAX_PLANS = 1_000

    def __init__(self, kind: str, mapping: ImportMapping) -> None:
        self.pairs = tuple((target, mapping.source_for(target)) for target in FIELDS[kind][1])
        prefix = "properties." if kind == "events" else "attributes."
        #: (custom name, source column) of columns mapped to attributes./properties.<name>
        self.renamed = tuple(
            (target.removeprefix(prefix), source)
            for target, source in mapping.columns.items()
            if target.startswith(prefix)
        )
        self.translations = mapping.values
        self.constants = tuple(mapping.constants.items())
        self.templates = tuple(mapping.templates.items())
        self.ignore = mapping.ignore
        self.nested_key = _NESTED_FIELDS[kind]
        self.plans: dict[tuple[str, ...], _Plan] = {}

    def _plan(self, keys: tuple[str, ...]) -> _Plan:
        present = set(keys)
        pairs = tuple((target, source) for target, source in self.pairs if source in present)
        used = {source for _, source in pairs} | {source for _, source in self.renamed}
        extras = tuple(key for key in keys if key not in used and key not in self.ignore)
        nested = self.nested_key if self.nested_key in present else None
        without_nested = tuple(key for key in extras if key != nested)
        return pairs, extras, without_nested, nested

    def __call__(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        keys = tuple(values)
        plan = self.plans.get(keys)
        if plan is None:
            plan = self._plan(keys)
            if len(self.plans) < self._MAX_PLANS:
                self.plans[keys] = plan
        pairs, extra_keys, without_nested, nested_key = plan
        fields: dict[str, Any] = {}
        translations = self.translations
        for target, source in pairs:
            value = values[source]
            if isinstance(value, str):
                value = value.strip() or None
            if value is not None and target in translations:
                value = translations[target].get(str(value), value)
            fields[target] = value
        for target, constant in self.constants:
            if fields.get(target) is None:
                fields[target] = constant
        for target, template in self.templates:
            if fields.get(target) is None:
                try:
                    fields[target] = template.format_map(values)
                except KeyError as exc:
                    raise ValueError(f"template for {target}: no column {exc}") from None
        extra: dict[str, Any] = {}
        if nested_key is not None:
            nested = values[nested_key]
            if isinstance(nested, dict):
                extra.update(nested)
                extra_keys = without_nested
        for name, source in self.renamed:
            value = values.get(source)
            if isinstance(value, str):
                value = value.strip() or None
            if value is not None:
                extra[name] = value
        for key in extra_keys:
            value = values[key]
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            elif value is None:
                continue
            extra[key] = value
        return fields, extra


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _import_records(
    session: Session,
    kind: str,
    rows: Any,
    mapping: ImportMapping,
    report: ImportReport,
    now: datetime,
    actor: str,
    tz: tzinfo | None = None,
) -> None:
    split = _Splitter(kind, mapping)
    for row in rows:
        report.rows += 1
        if row.problem is not None:
            report.rejects.append(Reject(row.line, row.problem, row.values, row.raw))
            continue
        try:
            fields, extra = split(row.values)
            if kind == "leads":
                for name in ("created_at", "stage_at"):
                    if fields.get(name) is not None:
                        fields[name] = parse_timestamp(fields[name], assume_tz=tz)
                lead_data = LeadCreate(**fields, attributes=extra)
                with session.begin_nested():
                    _, created = upsert_lead(session, data=lead_data, now=now, actor=actor)
            else:
                account_data = AccountCreate(**fields, attributes=extra)
                with session.begin_nested():
                    _, created = upsert_account(session, data=account_data, now=now)
        except ValidationError as exc:
            report.rejects.append(Reject(row.line, _validation_reason(exc), row.values, row.raw))
            continue
        except (LeadgateError, ValueError) as exc:
            report.rejects.append(Reject(row.line, str(exc), row.values, row.raw))
            continue
        if created:
            report.created += 1
        else:
            report.updated += 1


def _lead_directory(session: Session) -> dict[str, str]:
    """Every id, email key and alias that names a lead, mapped to its lead id."""
    directory: dict[str, str] = {}
    for lead_id, email_key in session.execute(select(Lead.id, Lead.email_key)):
        directory[lead_id] = lead_id
        directory[email_key] = lead_id
    for alias, lead_id in session.execute(select(LeadAlias.alias, LeadAlias.lead_id)):
        directory.setdefault(alias, lead_id)
    return directory


def _bounded(value: Any, name: str, limit: int) -> str | None:
    """Text of at most ``limit`` characters (the column size), as EventCreate checks it."""
    if value is None:
        return None
    text = str(value)
    if len(text) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return text


def _import_events(
    session: Session,
    rows: Any,
    mapping: ImportMapping,
    tz: tzinfo | None,
    report: ImportReport,
    now: datetime,
) -> None:
    directory = _lead_directory(session)
    split = _Splitter("events", mapping)
    known_types: dict[str, str] = {}
    seen: dict[str, int] = {}
    batch: list[EventRow] = []

    def flush() -> None:
        inserted = insert_event_rows(session, rows=batch, received_at=now)
        report.created += inserted
        report.skipped += len(batch) - inserted
        batch.clear()

    for row in rows:
        report.rows += 1
        if row.problem is not None:
            report.rejects.append(Reject(row.line, row.problem, row.values, row.raw))
            continue
        try:
            fields, properties = split(row.values)
            raw_type = fields.get("type")
            if raw_type is None:
                raise ValueError("type is missing")
            raw_type = str(raw_type)
            event_type = known_types.get(raw_type)
            if event_type is None:
                event_type = known_types[raw_type] = check_event_type(raw_type)
            if fields.get("occurred_at") is None:
                raise ValueError("occurred_at is missing")
            occurred_at = parse_timestamp(fields["occurred_at"], assume_tz=tz)
            ref = fields.get("lead_id") or fields.get("email")
            if ref is None:
                raise ValueError("no lead_id or email")
            ref = str(ref)
            lead_id = directory.get(ref) or directory.get(ref.strip().lower())
            if lead_id is None:
                raise ValueError(f"unknown lead {ref[:80]!r} (import the lead first)")
            event_id = fields.get("event_id")
            if event_id is None:
                event_id = derived_event_id(ref, event_type, occurred_at, properties)
            event_id = str(event_id)
            if len(event_id) > 255:
                raise ValueError("event_id is longer than 255 characters")
            first_line = seen.get(event_id)
            if first_line is not None:
                raise ValueError(
                    f"duplicate event id {event_id[:80]!r} in this file "
                    f"(first on line {first_line})"
                )
            seen[event_id] = row.line
            batch.append(
                (
                    event_id,
                    lead_id,
                    event_type,
                    occurred_at,
                    _bounded(fields.get("channel"), "channel", 200),
                    _bounded(fields.get("campaign"), "campaign", 300),
                    properties,
                )
            )
        except ValueError as exc:
            report.rejects.append(Reject(row.line, str(exc), row.values, row.raw))
            continue
        if len(batch) >= _BATCH:
            flush()
    flush()


def _write_rejects(target: Path, fmt: str, header: list[str] | None, rejects: list[Reject]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            columns = ["_line", "_reason", *(header or [])]
            writer = csv.writer(handle)
            writer.writerow(columns)
            for reject in rejects:
                writer.writerow(
                    [
                        reject.line,
                        reject.reason,
                        *(reject.values.get(name, "") for name in header or []),
                    ]
                )
        else:
            for reject in rejects:
                record = {"_line": reject.line, "_reason": reject.reason, "_raw": reject.raw}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
