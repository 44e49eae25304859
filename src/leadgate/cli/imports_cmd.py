"""``leadgate import leads|accounts|events FILE``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leadgate.cli.output import EXIT_REJECTED, JsonOption, console, database, emit_json, guard
from leadgate.common.ids import utcnow
from leadgate.common.text import parse_timezone
from leadgate.config import Settings
from leadgate.exceptions import LeadgateError
from leadgate.imports import ImportReport, import_file, load_mapping
from leadgate.qualification import HandoffPolicy, hand_off_entries_after, last_entry_id

__all__ = ["app"]

app = typer.Typer(
    help="Import leads, accounts or events from CSV or JSON Lines (idempotent, one transaction).",
    no_args_is_help=True,
)

MapOption = typer.Option(
    None, "--map", help="Column mapping YAML (columns, constants, values, assume_tz)."
)
FormatOption = typer.Option(None, "--format", help="csv or jsonl (default: from the extension).")
TzOption = typer.Option(
    None,
    "--assume-tz",
    help="Time zone of timestamps written without one (e.g. UTC, Europe/Prague). "
    "Without it such timestamps are rejected.",
)
RejectsOption = typer.Option(
    None, "--rejects", help="Where to write rejected rows (default: ./NAME.rejects.csv)."
)


def _run(
    kind: str,
    file: Path,
    mapping_file: Path | None,
    fmt: str | None,
    assume_tz: str | None,
    rejects: Path | None,
    as_json: bool,
    handoff: bool = False,
) -> None:
    handed = None
    with guard(as_json):
        mapping = load_mapping(mapping_file, kind=kind) if mapping_file is not None else None
        try:
            tz = parse_timezone(assume_tz) if assume_tz else None
        except ValueError as exc:
            raise LeadgateError(f"--assume-tz: {exc}") from None
        if not file.is_file():
            raise LeadgateError(f"{file}: no such file")
        settings = Settings()
        db = database(settings)
        policy = HandoffPolicy.configured(settings, database=db) if handoff else None
        try:
            with db.session() as session:
                before = last_entry_id(session)
            size = file.stat().st_size
            show = not as_json and console.is_terminal and size > 2_000_000
            with Progress(
                TextColumn(f"importing {kind}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=console,
                disable=not show,
                transient=True,
            ) as progress:
                task = progress.add_task(kind, total=size)
                report = import_file(
                    db,
                    kind=kind,
                    path=file,
                    mapping=mapping,
                    fmt=fmt,
                    assume_tz=tz,
                    rejects_path=rejects,
                    on_bytes=(lambda n: progress.advance(task, n)) if show else None,
                )
            if policy is not None:
                with db.session() as session:
                    handed = hand_off_entries_after(
                        session, after_id=before, policy=policy, now=utcnow()
                    )
        finally:
            db.dispose()
    _print(report, as_json, handed)
    if report.rejected:
        raise typer.Exit(EXIT_REJECTED)


def _print(report: ImportReport, as_json: bool, handed: int | None = None) -> None:
    extra = {} if handed is None else {"handed_off": handed}
    if as_json:
        emit_json({"ok": report.rejected == 0, **report.to_dict(), **extra})
        return
    table = Table(title=f"import {report.kind}: {report.file}", show_header=False)
    table.add_row("rows read", f"{report.rows:,}")
    table.add_row("created", f"{report.created:,}")
    if report.kind != "events":
        table.add_row("updated", f"{report.updated:,}")
    else:
        table.add_row("already stored (skipped)", f"{report.skipped:,}")
    table.add_row("rejected", f"[red]{report.rejected:,}[/]" if report.rejected else "0")
    if handed is not None:
        table.add_row("handed off (--handoff)", f"{handed:,}")
    rate = report.rows / report.seconds if report.seconds else 0
    table.add_row("time", f"{report.seconds:.2f} s ({rate:,.0f} rows/s)")
    console.print(table)
    for reject in report.rejects[:10]:
        console.print(f"  line {reject.line}: {reject.reason}", highlight=False)
    if report.rejected > 10:
        console.print(f"  ... and {report.rejected - 10:,} more")
    if report.rejects_path:
        # soft wrap: a path broken over lines cannot be copied
        console.print(f"rejected rows written to [bold]{report.rejects_path}[/]", soft_wrap=True)


@app.command("leads")
def leads(
    file: Path = typer.Argument(..., help="CSV or JSONL file of leads (needs an email column)."),
    mapping: Path | None = MapOption,
    fmt: str | None = FormatOption,
    assume_tz: str | None = TzOption,
    rejects: Path | None = RejectsOption,
    handoff: bool = typer.Option(
        False,
        "--handoff",
        help="Hand off the stage each imported lead is in now (its playbooks run, e.g. an "
        "owner and a task for an MQL); without it an imported stage is history only.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create or update leads; the same email (any case) is the same lead."""
    _run("leads", file, mapping, fmt, assume_tz, rejects, as_json, handoff)


@app.command("accounts")
def accounts(
    file: Path = typer.Argument(..., help="CSV or JSONL file of accounts (needs id or domain)."),
    mapping: Path | None = MapOption,
    fmt: str | None = FormatOption,
    assume_tz: str | None = TzOption,
    rejects: Path | None = RejectsOption,
    as_json: bool = JsonOption,
) -> None:
    """Create or update accounts, matched by id, else by domain."""
    _run("accounts", file, mapping, fmt, assume_tz, rejects, as_json)


@app.command("events")
def events(
    file: Path = typer.Argument(
        ..., help="CSV or JSONL file of events (type, occurred_at, lead_id or email)."
    ),
    mapping: Path | None = MapOption,
    fmt: str | None = FormatOption,
    assume_tz: str | None = TzOption,
    rejects: Path | None = RejectsOption,
    as_json: bool = JsonOption,
) -> None:
    """Record events; importing the same events again adds nothing."""
    _run("events", file, mapping, fmt, assume_tz, rejects, as_json)
