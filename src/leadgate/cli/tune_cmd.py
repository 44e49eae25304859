"""``leadgate tune``: the MQL threshold curve of one score group, and a recommendation."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from leadgate.backtest import load_backtest_data, period_end
from leadgate.backtest.tune import TuneResult, sweep_thresholds, write_threshold
from leadgate.cli.backtest_cmd import period_from_options
from leadgate.cli.output import JsonOption, console, database, emit_json, guard
from leadgate.config import Settings
from leadgate.exceptions import LeadgateError
from leadgate.scoring import load_model_file

__all__ = ["render_tune", "tune"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_tune(result: TuneResult, written: Path | None) -> None:
    """Print the curve with the current and recommended thresholds marked."""
    table = Table(
        "threshold",
        "MQLs/week",
        "MQLs",
        "precision",
        "recall",
        "",
        title=f"{result.model}: MQL threshold on {result.group} "
        f"(outcome {result.outcome}, {result.period.start} to {result.period.end})",
    )
    chosen = None if result.recommended is None else result.recommended.threshold
    for point in result.points:
        marks = []
        if point.threshold == result.current:
            marks.append("current")
        if point.threshold == chosen:
            marks.append("[bold green]recommended[/]")
        table.add_row(
            f"{point.threshold:g}",
            f"{point.score.mqls_per_week:.2f}",
            str(point.score.totals.mqls),
            _pct(point.score.totals.precision),
            _pct(point.score.totals.recall),
            ", ".join(marks),
        )
    console.print(table)
    console.print(result.reason)
    if written is not None:
        console.print(f"wrote [bold]{written}[/]")


def tune(
    model_file: Path = typer.Option(..., "--model", help="Scoring model YAML to tune."),
    group: str = typer.Option(..., "--group", help="The score group whose MQL threshold moves."),
    target_mql_per_week: float | None = typer.Option(
        None, "--target-mql-per-week", min=0, help="Aim for this many MQLs per week."
    ),
    target_precision: float | None = typer.Option(
        None, "--target-precision", min=0, max=1, help="Aim for this precision (0-1)."
    ),
    outcome: str = typer.Option(
        "sql", "--outcome", help="A stage (sql, customer, ...) or attributes.NAME."
    ),
    start: str | None = typer.Option(None, "--from", help="First day (YYYY-MM-DD, UTC)."),
    end: str | None = typer.Option(None, "--to", help="Last day (YYYY-MM-DD, UTC)."),
    thresholds: str | None = typer.Option(
        None, "--thresholds", help="Comma-separated thresholds to try (default: about 30)."
    ),
    write: bool = typer.Option(
        False, "--write", help="Write a new model version with the recommended threshold."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Where --write puts it (default: MODEL-vN.yaml beside the model)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Sweep the MQL threshold of one group over the replayed history and recommend one."""
    written: Path | None = None
    with guard(as_json):
        settings = Settings()
        period = period_from_options(start, end)
        model = load_model_file(model_file)
        chosen = None
        if thresholds:
            try:
                chosen = [float(item) for item in thresholds.split(",") if item.strip()]
            except ValueError:
                raise LeadgateError(
                    f"--thresholds: {thresholds!r} is not a list of numbers"
                ) from None
        database(settings).dispose()
        data = load_backtest_data(settings.database_url, [model], end=period_end(period))
        result = sweep_thresholds(
            data,
            model,
            group=group,
            outcome=outcome,
            period=period,
            thresholds=chosen,
            target_mql_per_week=target_mql_per_week,
            target_precision=target_precision,
        )
        if write:
            if result.recommended is None:
                raise LeadgateError(f"nothing written: {result.reason}")
            written = out or model_file.with_name(f"{model_file.stem}-v{model.version + 1}.yaml")
            write_threshold(model_file, model, group, result.recommended.threshold, written)
    if as_json:
        emit_json(
            {"ok": True, **result.to_dict(), "written": None if written is None else str(written)}
        )
        return
    render_tune(result, written)
