"""``leadgate demo``: build a believable B2B world, score it, and show what happened."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.engine import make_url

from leadgate.cli.output import JsonOption, console, emit_json, guard
from leadgate.db.engine import sqlite_path
from leadgate.demo.runner import DEMO_URL, DemoSummary, build_demo

__all__ = ["demo", "render_summary"]

_TYPICAL = (0.10, 0.15)


def demo(
    database_url: str = typer.Option(
        DEMO_URL,
        "--database-url",
        help="Where to build the demo (never overwrites a non-demo database).",
    ),
    seed: int = typer.Option(7, "--seed", help="Random seed; the same seed builds the same world."),
    leads: int = typer.Option(2400, "--leads", min=10, help="How many leads to generate."),
    accounts: int = typer.Option(360, "--accounts", min=1, help="How many accounts to generate."),
    days: int = typer.Option(180, "--days", min=14, help="Days of history ending now."),
    as_json: bool = JsonOption,
) -> None:
    """Create a fresh demo database with months of history, score it, and summarise."""
    with guard(as_json):
        if not as_json:
            console.print(
                f"building the demo world ({leads:,} leads, {accounts:,} accounts, {days} days)..."
            )
        summary = build_demo(url=database_url, seed=seed, leads=leads, accounts=accounts, days=days)
    if as_json:
        emit_json({"ok": True, **summary.to_dict()})
        return
    render_summary(summary)


def _url_hint(url: str) -> str:
    path = sqlite_path(url)
    if path is None:
        return make_url(url).render_as_string(hide_password=True)
    return f"sqlite:///{Path(path).resolve()}"


def render_summary(summary: DemoSummary) -> None:
    """Print the demo summary for people."""
    console.print(
        f"[bold]{summary.leads:,}[/] leads at [bold]{summary.accounts:,}[/] accounts, "
        f"[bold]{summary.events:,}[/] events "
        f"from {summary.start:%Y-%m-%d} to {summary.end:%Y-%m-%d}"
    )
    stages = Table("stage", "leads", title="leads by stage")
    for stage, count in summary.stages.items():
        stages.add_row(stage, f"{count:,}")
    console.print(stages)
    rate = summary.mql_to_sql
    if rate is not None:
        low, high = _TYPICAL
        note = "within" if low <= rate <= high else "below" if rate < low else "above"
        console.print(
            f"MQL to SQL: [bold]{summary.ever_sql}[/] of [bold]{summary.ever_mql}[/] "
            "leads that became MQL "
            f"reached SQL = [bold]{rate:.1%}[/] ({note} the 10-15 % often quoted as typical)"
        )
        channels = Table(
            "channel",
            "MQLs",
            "SQLs",
            "MQL to SQL",
            title="by channel (cohort: ever MQL -> ever SQL)",
        )
        for channel, (mql, sql) in summary.by_channel.items():
            channels.add_row(channel, str(mql), str(sql), f"{sql / mql:.0%}" if mql else "-")
        console.print(channels)
    run = summary.run
    console.print(
        f"scored with [bold]{run.model}[/] as of {run.as_of:%Y-%m-%d %H:%M} UTC: "
        f"{run.mql_verdicts} leads meet the MQL definition; "
        f"[bold green]{len(run.qualified)}[/] became MQL just now"
    )
    handed = summary.handoffs.describe()
    if handed is not None:
        console.print(handed, highlight=False)
    top = sorted(
        run.qualified,
        key=lambda q: -sum(q.scorecard.scores.get(g, 0.0) for g in ("fit", "engagement")),
    )
    if top:
        table = Table("lead", "fit", "engagement", "grade", "why", title="top new MQLs")
        for q in top[:10]:
            table.add_row(
                q.email,
                f"{q.scorecard.scores.get('fit', 0.0):.0f}",
                f"{q.scorecard.scores.get('engagement', 0.0):.0f}",
                q.scorecard.grade or "-",
                q.scorecard.reasons(),
            )
        console.print(table)
    hint = _url_hint(summary.database_url)
    example = top[0].email if top else "EMAIL"
    console.print(f"done in {summary.seconds:.1f} s. Look further with:")
    console.print(f"  export LEADGATE_DATABASE_URL={hint}", highlight=False, soft_wrap=True)
    console.print("  leadgate leads --stage mql", highlight=False)
    console.print(f"  leadgate explain {example}", highlight=False)
    if summary.logins:
        console.print("Open the web app on this world:", highlight=False)
        console.print(
            f"  LEADGATE_DATABASE_URL={hint} leadgate serve   # then http://127.0.0.1:8000/",
            highlight=False,
            soft_wrap=True,
        )
        users = ", ".join(f"{email} ({role})" for email, role in summary.logins.items())
        console.print(f"  sign in as {users}", highlight=False, soft_wrap=True)
        console.print(
            f"  password (this build only): {summary.password}", highlight=False, soft_wrap=True
        )
