"""``leadgate rescore``: score every lead of Parquet/CSV files with one compiled query."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from leadgate.cli.output import JsonOption, console, emit_json, guard, parse_as_of
from leadgate.engines.compiler import dialect_for
from leadgate.engines.duckdb_engine import rescore_files
from leadgate.exceptions import LeadgateError
from leadgate.scoring import load_model_file

__all__ = ["rescore"]

ENGINES = ("duckdb", "spark")


def rescore(
    events: Path = typer.Option(..., "--events", help="Events file (.parquet or .csv)."),
    leads: Path = typer.Option(..., "--leads", help="Leads file (.parquet or .csv)."),
    accounts: Path | None = typer.Option(
        None, "--accounts", help="Accounts file (.parquet or .csv)."
    ),
    model_file: Path = typer.Option(..., "--model", help="Scoring model YAML."),
    as_of: str = typer.Option(..., "--as-of", help="Score as of this ISO 8601 instant (UTC)."),
    out: Path = typer.Option(..., "--out", help="Output file (.parquet or .csv)."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (spark: not yet available)."),
    as_json: bool = JsonOption,
) -> None:
    """Rescore every lead in files: lead_id, one column per score, grade and mql."""
    with guard(as_json):
        if engine.strip().lower() not in ENGINES:
            raise LeadgateError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        dialect_for(engine)  # a planned engine says "not yet available" here
        model = load_model_file(model_file)
        when = parse_as_of(as_of)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json,
        ) as progress:
            task = progress.add_task(f"rescoring with {model.label} on {engine}", total=100)

            def advance(percent: float) -> None:
                progress.update(task, completed=percent)

            result = rescore_files(
                model,
                events=events,
                leads=leads,
                accounts=accounts,
                as_of=when,
                out=out,
                progress=advance,
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
