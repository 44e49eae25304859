"""``leadgate report funnel``: stage entries, cohort conversions and time in stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from leadgate.backtest.outcomes import reached_at
from leadgate.backtest.service import parse_day
from leadgate.cli.output import JsonOption, console, database, emit_json, guard
from leadgate.config import Settings
from leadgate.exceptions import LeadgateError
from leadgate.lifecycle import Stage
from leadgate.reports.charts import chart_data, render_png
from leadgate.reports.funnel import FunnelReport, funnel_report
from leadgate.reports.history import DIMENSIONS, read_history, read_scores

__all__ = ["app", "funnel", "render_funnel"]

app = typer.Typer(help="Reports over the stored history.", no_args_is_help=True)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _days(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_funnel(report: FunnelReport) -> None:
    """Print the funnel for people."""
    data = report.to_dict()
    period = data["period"]
    console.print(
        f"funnel from {period['from'] or 'the beginning'} to {period['to'] or 'now'} "
        "[dim](cohorts: of the leads that entered the first stage in the period, "
        "how many reached the second by now)[/]"
    )
    stages = Table("stage", "entered", title="leads entering each stage")
    for row in data["stages"]:
        stages.add_row(row["stage"], f"{row['entered']:,}")
    console.print(stages)
    conversions = Table("conversion", "cohort", "converted", "rate", title="conversions")
    for row in data["conversions"]:
        conversions.add_row(
            f"{row['from']} to {row['to']}",
            f"{row['cohort']:,}",
            f"{row['converted']:,}",
            _pct(row["rate"]),
        )
    console.print(conversions)
    times = Table(
        "stage",
        "median days",
        "p90 days",
        "finished stays",
        "still in stage",
        title="time in stage",
    )
    for row in data["time_in_stage"]:
        times.add_row(
            row["stage"],
            _days(row["median_days"]),
            _days(row["p90_days"]),
            str(row["finished_stays"]),
            str(row["still_in_stage"]),
        )
    console.print(times)
    console.print(f"MQL to SQL: {data['mql_to_sql']['note']}")
    if data["groups"]:
        heads = [
            f"{a} to {b}"
            for a, b in (("lead", "mql"), ("mql", "sal"), ("mql", "sql"), ("sql", "customer"))
        ]
        groups = Table(data["by"], "leads", "MQLs", "SQLs", *heads, title=f"by {data['by']}")
        for group in data["groups"]:
            entered = {row["stage"]: row["entered"] for row in group["stages"]}
            rates = {(c["from"], c["to"]): c for c in group["conversions"]}
            groups.add_row(
                str(group["value"]),
                f"{entered['lead'] + entered['subscriber']:,}",
                f"{entered['mql']:,}",
                f"{entered['sql']:,}",
                *[
                    _pct(rates[(a, b)]["rate"])
                    for a, b in (
                        ("lead", "mql"),
                        ("mql", "sal"),
                        ("mql", "sql"),
                        ("sql", "customer"),
                    )
                ],
            )
        console.print(groups)
    console.print(f"SLA compliance: {data['sla']['note']}")


@app.command("funnel")
def funnel(
    by: str | None = typer.Option(
        None, "--by", help="Break down by: " + ", ".join(DIMENSIONS) + "."
    ),
    start: str | None = typer.Option(None, "--from", help="First day (YYYY-MM-DD, UTC)."),
    end: str | None = typer.Option(None, "--to", help="Last day (YYYY-MM-DD, UTC)."),
    png: Path | None = typer.Option(
        None, "--png", help="Also draw the funnel, MQL to SQL by --by and scores into this PNG."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Stage entries, cohort conversions and time in stage, optionally by a breakdown."""
    with guard(as_json):
        settings = Settings()
        first = None if start is None else parse_day(start, "--from")
        last = None if end is None else parse_day(end, "--to")
        if first is not None and last is not None and last < first:
            raise LeadgateError(f"--from/--to: the period ends ({last}) before it starts ({first})")
        database(settings).dispose()
        history = read_history(settings.database_url)
        report = funnel_report(
            history, by=by or ("channel" if png else None), start=first, end=last
        )
        chart: dict[str, Any] | None = None
        if png is not None:
            reached = set(reached_at(history, Stage.SQL))
            chart = chart_data(report, read_scores(settings.database_url), reached)
            render_png(chart, png)
    if as_json:
        payload = {"ok": True, **report.to_dict()}
        if chart is not None:
            payload["chart"] = {"png": str(png), **chart}
            for key in ("reached_sql", "not_reached"):
                payload["chart"]["scores_by_outcome"][key] = len(chart["scores_by_outcome"][key])
        emit_json(payload)
        return
    render_funnel(report)
    if png is not None:
        console.print(f"wrote [bold]{png}[/]")
