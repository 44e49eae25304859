"""``leadgate handoff release``: run the handoffs a batch command skipped (--no-handoff)."""

from __future__ import annotations

from pathlib import Path

import typer

from leadgate.cli.output import JsonOption, console, database, emit_json, guard
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.leads.service import get_lead
from leadgate.qualification import HandoffPolicy, release_skipped

__all__ = ["app"]

app = typer.Typer(help="Handoffs that batch commands skipped.", no_args_is_help=True)


@app.command("release")
def release(
    leads: list[str] = typer.Option(
        [], "--lead", help="Only this lead (id or email); repeat for several."
    ),
    playbooks_file: Path | None = typer.Option(
        None,
        "--playbooks",
        help="Handoff playbooks YAML (default: LEADGATE_PLAYBOOKS_PATH or the shipped ones).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run, run nothing."),
    as_json: bool = JsonOption,
) -> None:
    """Hand off the skipped stage entries that are still the lead's current stage.

    Entries the lead has left since are reported as stale and left alone.
    """
    with guard(as_json):
        settings = Settings()
        db = database(settings)
        policy = HandoffPolicy.configured(settings, playbooks_file, database=db)
        try:
            with db.session() as session:
                ids = [get_lead(session, ref=ref).id for ref in leads] if leads else None
                result = release_skipped(
                    session, policy=policy, now=utcnow(), lead_ids=ids, dry_run=dry_run
                )
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, "dry_run": dry_run, **result.to_dict()})
        return
    actions = ", ".join(f"{key} {n:,}" for key, n in sorted(result.actions.items()))
    verb = "would release" if dry_run else "released"
    console.print(
        f"{verb} {result.released:,} skipped handoff(s)"
        + (f": {actions}" if actions else "")
        + (f"; {result.stale:,} stale (the lead has moved on since)" if result.stale else "")
    )
