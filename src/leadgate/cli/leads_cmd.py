"""``leadgate leads``: list leads with their stage, scores and grade."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select

from leadgate.accounts.models import Account
from leadgate.cli.output import JsonOption, console, database, emit_json, guard
from leadgate.exceptions import LeadgateError
from leadgate.leads.service import list_leads
from leadgate.lifecycle import Stage
from leadgate.scorecards.service import scorecards_for

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
                rows = list_leads(session, stage=wanted, limit=limit)
                cards = scorecards_for(session, lead_ids=[lead.id for lead in rows])
                account_ids = {lead.account_id for lead in rows if lead.account_id}
                names = {
                    row[0]: row[1]
                    for row in session.execute(
                        select(Account.id, Account.name).where(Account.id.in_(account_ids))
                    )
                }
                items: list[dict[str, Any]] = [
                    {
                        "id": lead.id,
                        "email": lead.email,
                        "account": names.get(lead.account_id) if lead.account_id else None,
                        "stage": lead.stage,
                        "stage_changed_at": lead.stage_changed_at.isoformat(),
                        "channel": lead.channel,
                        "scores": cards[lead.id].scores if lead.id in cards else None,
                        "grade": cards[lead.id].grade if lead.id in cards else None,
                        "mql": cards[lead.id].mql if lead.id in cards else None,
                    }
                    for lead in rows
                ]
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, "count": len(items), "leads": items})
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
    console.print(f"{len(items)} lead(s)")
