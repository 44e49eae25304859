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
    started = time.perf_counter()
    report = ImportReport(kind=kind, file=str(path))
    header, rows = read_rows(path, file_format, on_bytes=on_bytes)
    if header is not None:
        _check_header(path, kind, header, mapping)
    with db.session() as session:
        now = utcnow()
        if kind == "events":
            _import_events(session, rows, mapping, tz, report, now)
        else:
            _import_records(session, kind, rows, mapping, report, now, actor)
    report.seconds = time.perf_counter() - started
    if report.rejects:
        target = (
            rejects_path
            or Path.cwd() / f"{path.stem}.rejects{'.csv' if file_format == 'csv' else '.jsonl'}"
        )
        _write_rejects(target, file_format, header, report.rejects)
        report.rejects_path = str(target)
    return report


def _check_header(path: Path, kind: str, header: list[str], mapping: ImportMapping) -> None:
    present = set(header)
    required, _ = FIELDS[kind]
    missing = [
        mapping.source_for(name)
        for name in sorted(required)
        if mapping.source_for(name) not in present and name not in mapping.constants
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


def _split(
    values: dict[str, Any], kind: str, mapping: ImportMapping
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mapped leadgate fields and the remaining custom values of one source row."""
    fields: dict[str, Any] = {}
    used: set[str] = set()
    for target in FIELDS[kind][1]:
        source = mapping.source_for(target)
        if source in values:
            used.add(source)
            value = values[source]
            if isinstance(value, str):
                value = value.strip() or None
            if value is not None and target in mapping.values:
                value = mapping.values[target].get(str(value), value)
            fields[target] = value
    for target, constant in mapping.constants.items():
        if fields.get(target) is None:
            fields[target] = constant
    nested_key = _NESTED_FIELDS[kind]
    extra: dict[str, Any] = {}
    nested = values.get(nested_key)
    if isinstance(nested, dict):
        extra.update(nested)
        used.add(nested_key)
    for key, value in values.items():
        if key in used or key in mapping.ignore:
            continue
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
) -> None:
    for row in rows:
        report.rows += 1
        if row.problem is not None:
            report.rejects.append(Reject(row.line, row.problem, row.values, row.raw))
            continue
        fields, extra = _split(row.values, kind, mapping)
        try:
            if kind == "leads":
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


def _import_events(
    session: Session,
    rows: Any,
    mapping: ImportMapping,
    tz: tzinfo | None,
    report: ImportReport,
    now: datetime,
) -> None:
    directory = _lead_directory(session)
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
        fields, properties = _split(row.values, "events", mapping)
        try:
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
                    f"duplicate event id {event_id[:80]!r} in this file (first on line {first_line})"
                )
            seen[event_id] = row.line
            channel = fields.get("channel")
            campaign = fields.get("campaign")
            batch.append(
                (
                    event_id,
                    lead_id,
                    event_type,
                    occurred_at,
                    None if channel is None else str(channel)[:200],
                    None if campaign is None else str(campaign)[:300],
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
