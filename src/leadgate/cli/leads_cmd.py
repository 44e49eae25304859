"""``leadgate leads``: list leads with their stage, scores and grade; ``leadgate leads
adjust``: adjust a lead's score by hand (or revoke an adjustment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from leadgate.cli.output import JsonOption, console, database, emit_json, guard, resolve_model
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.exceptions import LeadgateError
from leadgate.leads.service import list_leads
from leadgate.lifecycle import Stage
from leadgate.qualification import HandoffPolicy, adjust_score, revoke_adjustment

__all__ = ["adjust", "app", "leads"]

app = typer.Typer(
    help="List leads with their stage, stored scores and grade; adjust a lead's score.",
    no_args_is_help=False,
)


@app.callback(invoke_without_command=True)
def leads(
    ctx: typer.Context,
    stage: str | None = typer.Option(None, "--stage", help="Only leads in this stage (e.g. mql)."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many leads."),
    as_json: bool = JsonOption,
) -> None:
    """List leads, most recent stage change first, with their stored scores."""
    if ctx.invoked_subcommand is not None:
        return
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


@app.command("adjust")
def adjust(
    lead_ref: str = typer.Argument(..., metavar="LEAD", help="Lead id or email."),
    group: str | None = typer.Option(None, "--group", help="The rule group to adjust."),
    points: float | None = typer.Option(
        None, "--points", help="Points to add (negative: to take away), at most 1000."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (required, 500 characters)."),
    revoke: int | None = typer.Option(
        None, "--revoke", metavar="ID", help="Revoke this adjustment instead (from now on)."
    ),
    actor: str = typer.Option("cli", "--actor", help="Who adjusts (the audit trail names them)."),
    model_file: Path | None = typer.Option(
        None, "--model", help="Scoring model YAML (default: LEADGATE_MODEL_PATH or b2b-default)."
    ),
    playbooks_file: Path | None = typer.Option(
        None, "--playbooks", help="Handoff playbooks YAML for a lead this makes an MQL."
    ),
    handoff: bool = typer.Option(
        True, "--handoff/--no-handoff", help="Hand off a new MQL (default) or record the skip."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Adjust a lead's score by hand: --group G --points P --reason R, scored at once
    (it may become an MQL and be handed off); or --revoke ID."""
    with guard(as_json):
        adding = (group, points, reason) != (None, None, None)
        if revoke is None and (group is None or points is None or reason is None):
            raise LeadgateError("give --group, --points and --reason (or --revoke ID)")
        if revoke is not None and adding:
            raise LeadgateError("--revoke takes no --group, --points or --reason")
        settings = Settings()
        model = resolve_model(model_file, settings)
        db = database(settings)
        policy = (
            HandoffPolicy.configured(settings, playbooks_file, database=db) if handoff else None
        )
        try:
            with db.session() as session:
                common: dict[str, Any] = {
                    "viewer": None,
                    "actor": actor,
                    "ref": lead_ref,
                    "model": model,
                    "handoff": policy,
                    "now": utcnow(),
                }
                if revoke is not None:
                    done = revoke_adjustment(session, adjustment_id=revoke, **common)
                else:
                    assert group is not None and points is not None and reason is not None
                    done = adjust_score(
                        session, group=group, points=points, reason=reason, **common
                    )
                result = done.to_dict()
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, **result})
        return
    item = result["adjustment"]
    verb = "revoked" if item["revoked_at"] else "added"
    console.print(
        f"{verb} adjustment {item['id']}: {item['group']} {item['points']:+g} "
        f"({item['reason']}) by {item['actor']}",
        highlight=False,
    )
    scores = "  ".join(f"{name} {value:.1f}" for name, value in result["scores"].items())
    moved = "; moved to MQL" if result["moved_to_mql"] else ""
    console.print(f"now: {scores}  grade {result['grade'] or '-'}; stage {result['stage']}{moved}")
