"""``leadgate backtest``: what a model would have passed to sales, and how that went."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from leadgate.backtest import (
    BacktestReport,
    Period,
    load_backtest_data,
    parse_day,
    period_end,
    run_backtest,
)
from leadgate.cli.output import JsonOption, console, database, emit_json, guard, resolve_model
from leadgate.config import Settings
from leadgate.exceptions import LeadgateError
from leadgate.reports.history import DIMENSIONS
from leadgate.scoring import load_model_file

__all__ = ["backtest", "period_from_options", "render_report"]

#: A backtest breaks MQLs down by lead fields: every report breakdown but cohort.
_BREAKDOWNS = [name for name in DIMENSIONS if name != "cohort"]


def period_from_options(start: str | None, end: str | None) -> Period:
    """``--from``/``--to`` (UTC days, inclusive); default: the 12 weeks ending yesterday."""
    last = parse_day(end, "--to") if end else datetime.now(UTC).date() - timedelta(days=1)
    first = parse_day(start, "--from") if start else last - timedelta(days=83)
    try:
        return Period(first, last)
    except ValueError as exc:
        raise LeadgateError(f"--from/--to: {exc}") from None


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_report(report: BacktestReport) -> None:
    """Print a backtest for people: totals side by side, weeks, channels, differences."""
    data = report.to_dict()
    columns = [*data["models"], data["on_record"]]
    console.print(
        f"replayed [bold]{data['leads']:,}[/] leads and [bold]{data['events_read']:,}[/] events, "
        f"period {data['period']['from']} to {data['period']['to']}, "
        f"outcome [bold]{data['outcome']}[/]"
    )
    summary = Table("", *[column["label"] for column in columns], title="would-be MQLs")
    rows: list[tuple[str, str]] = [
        ("MQLs in the period", "mqls"),
        ("MQLs per week", "mqls_per_week"),
        ("reached the outcome", "reached_outcome"),
        ("precision", "precision"),
        ("outcome leads in the period", "outcome_leads"),
        ("of them MQL first", "mql_first"),
        ("recall", "recall"),
        ("median days MQL to outcome", "median_days_mql_to_outcome"),
        ("qualified before the period", "qualified_before_period"),
        ("outcome before the MQL", "outcome_before_mql"),
    ]
    for label, key in rows:
        values = [column[key] for column in columns]
        shown = [
            _pct(v) if key in ("precision", "recall") else ("-" if v is None else str(v))
            for v in values
        ]
        summary.add_row(label, *shown)
    console.print(summary)
    weeks = Table("week", *[column["label"] for column in columns], title="MQLs per week")
    for index, week in enumerate(columns[0]["per_week"]):
        weeks.add_row(week["week"], *[str(c["per_week"][index]["mqls"]) for c in columns])
    console.print(weeks)
    by = data["by"]
    for column in data["models"]:
        channels = Table(
            by,
            "MQLs",
            "reached",
            "precision",
            "outcome leads",
            "recall",
            title=f"{column['label']} by {by}",
        )
        for name, rates in column[f"by_{by}"].items():
            channels.add_row(
                name,
                str(rates["mqls"]),
                str(rates["reached_outcome"]),
                _pct(rates["precision"]),
                str(rates["outcome_leads"]),
                _pct(rates["recall"]),
            )
        console.print(channels)
    if data["compare"]:
        console.print(f"both models pass [bold]{data['compare']['both']}[/] of the same leads")
        for key, part in data["compare"].items():
            if key == "both":
                continue
            console.print(
                f"{key.removeprefix('only_')} alone: [bold]{part['leads']}[/] leads, "
                f"{part['reached_outcome']} reached the outcome ({_pct(part['precision'])}); "
                f"e.g. {', '.join(part['examples'][:5]) or '-'}"
            )
    for column in data["models"]:
        console.print(
            f"[dim]{column['label']}: {column['checkpoints']:,} checkpoints "
            f"({column['days_checked']}) in {column['replay_seconds']:.2f} s[/]"
        )


def backtest(
    model_file: Path | None = typer.Option(
        None, "--model", help="Scoring model YAML (default: the configured or shipped model)."
    ),
    compare: Path | None = typer.Option(
        None, "--compare", help="A second model to replay side by side."
    ),
    outcome: str = typer.Option(
        "sql",
        "--outcome",
        help="What a good MQL leads to: a stage (sql, customer, ...) or attributes.NAME.",
    ),
    start: str | None = typer.Option(None, "--from", help="First day (YYYY-MM-DD, UTC)."),
    end: str | None = typer.Option(
        None, "--to", help="Last day (YYYY-MM-DD, UTC); default yesterday."
    ),
    by: str = typer.Option(
        "channel",
        "--by",
        help="Break MQLs down by: " + ", ".join(_BREAKDOWNS) + ".",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Replay models over the stored events, point in time, against recorded outcomes."""
    with guard(as_json):
        settings = Settings()
        period = period_from_options(start, end)
        models = [resolve_model(model_file, settings)]
        if compare is not None:
            models.append(load_model_file(compare))
        database(settings).dispose()  # create or migrate before reading
        data = load_backtest_data(settings.database_url, models, end=period_end(period))
        report = run_backtest(data, models, outcome=outcome, period=period, by=by)
    if as_json:
        emit_json({"ok": True, **report.to_dict()})
        return
    render_report(report)
