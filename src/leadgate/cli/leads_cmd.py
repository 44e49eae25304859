"""``leadgate leads``: list leads with their stage, scores and grade."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from leadgate.cli.output import JsonOption, console, database, emit_json, guard
from leadgate.exceptions import LeadgateError
from leadgate.leads.service import list_leads
from leadgate.lifecycle import Stage

__all__ = ["leads"]


def leads(
    stage: str | None = typer.Option(None, "--stage", help="Only leads in this stage (e.g. mql)."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many leads."),
    as_json: bool = JsonOption,
) -> None:
    """List leads, most recent stage change first, with their stored scores."""
    with guard(as_json):
        try:
            wanted = Stage(stage) if stage is not None else None
        except ValueError:
            raise LeadgateError(
                f"--stage: unknown stage {stage!r}; stages are {', '.join(s.value for s in Stage)}"
            ) from None
        db = database()
        try:
            with db.session() as session:
                page = list_leads(session, stage=wanted, limit=limit)
                items: list[dict[str, Any]] = [
                    {
                        "id": row.lead.id,
                        "email": row.lead.email,
                        "account": row.account_name,
                        "stage": row.lead.stage,
                        "stage_changed_at": row.lead.stage_changed_at.isoformat(),
                        "channel": row.lead.channel,
                        "scores": row.scorecard.scores if row.scorecard else None,
                        "grade": row.scorecard.grade if row.scorecard else None,
                        "mql": row.scorecard.mql if row.scorecard else None,
                    }
                    for row in page.rows
                ]
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, "count": len(items), "total": page.total, "leads": items})
        return
    table = Table()
    table.add_column("email", no_wrap=True)
    for name in ("account", "stage", "since", "channel", "scores", "grade"):
        table.add_column(name)
    for item in items:
        scores = " ".join(f"{k} {v:.0f}" for k, v in (item["scores"] or {}).items()) or "not scored"
        table.add_row(
            item["email"],
            item["account"] or "-",
            item["stage"],
            str(item["stage_changed_at"])[:10],
            item["channel"] or "-",
            scores,
            item["grade"] or "-",
        )
    console.print(table)
    console.print(f"{len(items)} of {page.total} lead(s)")
