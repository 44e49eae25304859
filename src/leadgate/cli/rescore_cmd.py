"""``leadgate rescore``: every lead at once, through the model compiled to one query.

Two modes share the compiled path:

* files: ``--events E --leads L [--accounts A] --as-of TS --out OUT`` scores
  Parquet/CSV files and writes one row per lead;
* the operational database (no ``--events``): shows what would change (who
  enters or leaves MQL, by grade and channel), then, confirmed, applies the
  stage changes with their history rows in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadgate.cli.output import (
    EXIT_REJECTED,
    JsonOption,
    console,
    database,
    emit_json,
    guard,
    parse_as_of,
    resolve_model,
)
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.engines.runner import ENGINES, rescore_files
from leadgate.exceptions import LeadgateError
from leadgate.qualification import HandoffPlan, HandoffPolicy
from leadgate.qualification.rescore import apply_rescore, plan_rescore_handoff
from leadgate.rescoring import RescorePlan, plan_rescore
from leadgate.scoring import load_model_file

__all__ = ["rescore"]


@contextmanager
def _progress(description: str, *, hidden: bool) -> Iterator[Callable[[float], None]]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=hidden,
    ) as progress:
        task = progress.add_task(description, total=100)

        def advance(percent: float) -> None:
            progress.update(task, completed=percent)

        yield advance


def rescore(
    # text, not Path: a Spark input may be a URI (s3a://bucket/events/) that Path would mangle
    events: str | None = typer.Option(
        None,
        "--events",
        help="Events file (.parquet or .csv; with Spark also a folder or URI); "
        "omit to rescore the database.",
    ),
    leads: str | None = typer.Option(None, "--leads", help="Leads file (.parquet or .csv)."),
    accounts: str | None = typer.Option(
        None, "--accounts", help="Accounts file (.parquet or .csv)."
    ),
    adjustments: str | None = typer.Option(
        None,
        "--adjustments",
        help="Score adjustments file (.parquet or .csv: lead_id, group_name, points, at, "
        "revoked_at).",
    ),
    model_file: Path | None = typer.Option(
        None, "--model", help="Scoring model YAML (required with files)."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Score as of this ISO 8601 instant (UTC); the database default: now."
    ),
    out: Path | None = typer.Option(None, "--out", help="Output file (.parquet or .csv)."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark."),
    spark_master: str | None = typer.Option(
        None,
        "--spark-master",
        help="Spark master (local[2], spark://host:7077, yarn) or Spark Connect URL (sc://...).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Database: show what would change, change nothing."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Database: apply without asking."),
    demote: bool = typer.Option(
        False,
        "--demote",
        help="Database: also move MQLs that no longer meet the definition to nurture.",
    ),
    handoff: bool = typer.Option(
        True,
        "--handoff/--no-handoff",
        help="Database: run the playbooks of every stage entry applied (default; the dry "
        "run shows how many), or record them as skipped for `leadgate handoff release`.",
    ),
    playbooks_file: Path | None = typer.Option(
        None,
        "--playbooks",
        help="Handoff playbooks YAML (default: LEADGATE_PLAYBOOKS_PATH or the shipped ones).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Rescore every lead: files in, one row per lead out; or the database, diff first."""
    with guard(as_json):
        if engine.strip().lower() not in ENGINES:
            raise LeadgateError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        files = (events, leads, out, accounts, adjustments)
        if all(value is None for value in files):
            _rescore_database(
                model_file,
                as_of,
                engine,
                spark_master,
                dry_run,
                yes,
                demote,
                handoff,
                playbooks_file,
                as_json,
            )
            return
        missing = [
            flag
            for flag, value in (
                ("--events", events),
                ("--leads", leads),
                ("--out", out),
                ("--model", model_file),
                ("--as-of", as_of),
            )
            if value is None
        ]
        if missing:
            raise LeadgateError(f"rescoring files needs {', '.join(missing)}")
        if dry_run or yes or demote or playbooks_file is not None:
            raise LeadgateError(
                "--dry-run, --yes, --demote and --playbooks apply to the database mode only"
            )
        assert events is not None and leads is not None and out is not None
        assert model_file is not None
        model = load_model_file(model_file)
        when = parse_as_of(as_of)
        with _progress(f"rescoring with {model.label} on {engine}", hidden=as_json) as advance:
            result = rescore_files(
                model,
                events=events,
                leads=leads,
                accounts=accounts,
                adjustments=adjustments,
                as_of=when,
                out=out,
                progress=advance,
                engine=engine,
                spark_master=spark_master,
            )
    if as_json:
        emit_json({"ok": True, **result.summary()})
        return
    console.print(
        f"rescored [bold]{result.leads:,}[/] leads with {model.label} as of "
        f"{when:%Y-%m-%d %H:%M} UTC on {result.engine} in {result.seconds:.2f} s: "
        f"[bold green]{result.mqls:,}[/] MQLs -> {out}"
    )
    for column in result.query.missing_columns:
        console.print(f"[yellow]note:[/] no column {column}; the model sees it as missing")


def _rescore_database(
    model_file: Path | None,
    as_of: str | None,
    engine: str,
    spark_master: str | None,
    dry_run: bool,
    yes: bool,
    demote: bool,
    handoff: bool,
    playbooks_file: Path | None,
    as_json: bool,
) -> None:
    if as_json and not (dry_run or yes):
        raise LeadgateError("with --json, pass --dry-run to preview or --yes to apply")
    settings = Settings()
    model = resolve_model(model_file, settings)
    when = parse_as_of(as_of)
    db = database(settings)
    try:
        policy = HandoffPolicy.configured(settings, playbooks_file, database=db)
        with _progress(f"rescoring stored leads with {model.label}", hidden=as_json) as advance:
            plan = plan_rescore(
                settings.database_url,
                model=model,
                as_of=when,
                engine=engine,
                spark_master=spark_master,
                progress=advance,
            )
        with db.session() as session:
            handoffs = plan_rescore_handoff(
                session, plan=plan, policy=policy, demote=demote, now=utcnow()
            )
        if not as_json:
            _show_plan(plan, demote=demote)
            _show_handoffs(handoffs, handoff=handoff)
        changes = len(plan.enter) + (len(plan.leave) if demote else 0)
        preview = {"handoff": handoff, "would_hand_off": handoffs.to_dict()}
        if dry_run or changes == 0:
            if as_json:
                emit_json({"ok": True, "applied": False, **plan.to_dict(), **preview})
            elif changes == 0:
                console.print("nothing to change")
            return
        if not yes and not typer.confirm(f"apply {changes:,} stage change(s)?", default=False):
            console.print("nothing changed")
            raise typer.Exit(EXIT_REJECTED)
        with db.session() as session:
            applied, handed = apply_rescore(
                session,
                plan=plan,
                model=model,
                handoff=policy if handoff else None,
                demote=demote,
            )
    finally:
        db.dispose()
    if as_json:
        emit_json(
            {
                "ok": True,
                "applied": True,
                "changes": applied,
                **plan.to_dict(),
                **preview,
                **handed.to_dict(),
            }
        )
        return
    moved = ", ".join(f"{key.replace('_', ' ')} {value:,}" for key, value in applied.items())
    console.print(f"applied: {moved or 'nothing'} (each with a history row)")
    line = handed.describe()
    if line is not None:
        console.print(line, highlight=False)


def _show_handoffs(handoffs: HandoffPlan, *, handoff: bool) -> None:
    if handoffs.entries == 0:
        return
    if handoff:
        console.print(f"applying hands off {handoffs.describe()} (--no-handoff skips them)")
    else:
        console.print(
            f"--no-handoff: {handoffs.describe()} would be recorded as skipped "
            "(`leadgate handoff release` runs them later)"
        )


def _show_plan(plan: RescorePlan, *, demote: bool) -> None:
    console.print(
        f"rescored [bold]{plan.leads:,}[/] stored leads ({plan.events:,} events read in "
        f"{plan.read_seconds:.2f} s) with {plan.model} as of {plan.as_of:%Y-%m-%d %H:%M} UTC "
        f"on {plan.engine} in {plan.score_seconds:.2f} s: {plan.mql_verdicts:,} meet the MQL "
        "definition"
    )
    table = Table(title="what would change", show_lines=False)
    table.add_column("change")
    table.add_column("leads", justify="right")
    table.add_column("by grade")
    table.add_column("by channel")
    for label, changes in (
        ("enter MQL", plan.enter),
        (
            "leave MQL -> nurture" if demote else "no longer MQL (kept; --demote moves them)",
            plan.leave,
        ),
    ):
        table.add_row(
            label,
            f"{len(changes):,}",
            _top(plan.breakdown(changes, "grade")),
            _top(plan.breakdown(changes, "channel")),
        )
    console.print(table)
    if plan.not_moved_stale:
        console.print(
            f"[yellow]note:[/] {plan.not_moved_stale:,} lead(s) meet the definition but entered "
            "their stage after --as-of; history is never written before what is recorded"
        )


def _top(counts: dict[str, int], limit: int = 5) -> str:
    items = list(counts.items())
    shown = ", ".join(f"{key} {value:,}" for key, value in items[:limit])
    return shown + (f", +{len(items) - limit} more" if len(items) > limit else "")
