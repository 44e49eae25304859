"""``leadgate score`` and ``leadgate explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.service import account_summary
from leadgate.cli.output import (
    JsonOption,
    console,
    database,
    emit_json,
    guard,
    parse_as_of,
    progress_columns,
    resolve_model,
)
from leadgate.config import Settings
from leadgate.leads.service import get_lead, stage_history
from leadgate.qualification import HandoffPolicy, explain_lead, qualify_all
from leadgate.scorecards.models import Prediction, StoredScorecard

__all__ = ["explain", "render_breakdown", "score"]

ModelOption = typer.Option(
    None,
    "--model",
    help="Scoring model YAML (default: LEADGATE_MODEL_PATH or the shipped b2b-default).",
)
AsOfOption = typer.Option(None, "--as-of", help="Score as of this ISO 8601 instant (default: now).")
HandoffOption = typer.Option(
    True,
    "--handoff/--no-handoff",
    help="Run the playbooks of every stage entry this command makes (default), or record "
    "them as skipped for `leadgate handoff release`.",
)
PlaybooksOption = typer.Option(
    None,
    "--playbooks",
    help="Handoff playbooks YAML (default: LEADGATE_PLAYBOOKS_PATH or the shipped playbooks).",
)


def score(
    model_file: Path | None = ModelOption,
    as_of: str | None = AsOfOption,
    handoff: bool = HandoffOption,
    playbooks_file: Path | None = PlaybooksOption,
    as_json: bool = JsonOption,
) -> None:
    """Score every lead, store the scorecards, move qualifying leads to MQL and hand
    them off (owner, task, messages) as the service does."""
    with guard(as_json):
        settings = Settings()
        model = resolve_model(model_file, settings)
        when = parse_as_of(as_of)
        db = database(settings)
        try:
            policy = (
                HandoffPolicy.configured(settings, playbooks_file, database=db) if handoff else None
            )
            with Progress(
                *progress_columns(), console=console, transient=True, disable=as_json
            ) as progress:
                task = progress.add_task("scoring", total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                with db.session() as session:
                    run, handed = qualify_all(
                        session, model=model, as_of=when, handoff=policy, progress=advance
                    )
        finally:
            db.dispose()
    if as_json:
        payload = {**run.to_dict(), **handed.to_dict()}
        payload["qualified"] = [
            {
                "lead_id": q.lead_id,
                "email": q.email,
                "from": q.from_stage,
                "scores": q.scorecard.scores,
                "grade": q.scorecard.grade,
                "reasons": q.scorecard.reasons(),
                "verdict": q.scorecard.verdict(),
            }
            for q in run.qualified
        ]
        emit_json({"ok": True, **payload})
        return
    console.print(
        f"scored [bold]{run.leads:,}[/] leads with {run.model} "
        f"as of {run.as_of:%Y-%m-%d %H:%M} UTC: {run.mql_verdicts:,} meet the MQL definition, "
        f"[bold green]{len(run.qualified):,}[/] moved to MQL now"
    )
    if run.qualified:
        table = Table("lead", "from", "scores", "grade", "why")
        for q in run.qualified[:15]:
            scores = " ".join(f"{k} {v:.0f}" for k, v in q.scorecard.scores.items())
            table.add_row(
                q.email, q.from_stage, scores, q.scorecard.grade or "-", q.scorecard.reasons()
            )
        console.print(table)
        if len(run.qualified) > 15:
            console.print(f"... and {len(run.qualified) - 15:,} more (leadgate leads --stage mql)")
    line = handed.describe()
    if line is not None:
        console.print(line, highlight=False)


def explain(
    lead_ref: str = typer.Argument(..., metavar="LEAD", help="Lead id or email."),
    model_file: Path | None = typer.Option(
        None, "--model", help="Recompute with this model instead of showing the stored scorecard."
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Recompute as of this instant instead of showing the stored scorecard.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Why does this lead have its score? Every rule, its points and the events behind them."""
    with guard(as_json):
        db = database()
        try:
            with db.session() as session:
                lead = get_lead(session, ref=lead_ref)
                account = session.get(Account, lead.account_id) if lead.account_id else None
                stored = session.get(StoredScorecard, lead.id)
                if stored is not None and model_file is None and as_of is None:
                    breakdown, source = stored.breakdown, "stored"
                else:
                    model = resolve_model(model_file)
                    when = parse_as_of(as_of)
                    card = explain_lead(session, lead_id=lead.id, model=model, as_of=when)
                    breakdown, source = card.to_dict(), "computed"
                history = [
                    {
                        "at": change.at.isoformat(),
                        "from": change.from_stage,
                        "to": change.to_stage,
                        "actor": change.actor,
                        "reason": change.reason,
                    }
                    for change in stage_history(session, lead_id=lead.id)
                ]
                prediction = session.get(Prediction, lead.id)
                info = {
                    "id": lead.id,
                    "email": lead.email,
                    "stage": lead.stage,
                    "account": account_summary(account),
                }
                predicted = _prediction_view(session, prediction)
        finally:
            db.dispose()
    if as_json:
        emit_json(
            {
                "ok": True,
                "lead": info,
                "source": source,
                "scorecard": breakdown,
                "prediction": predicted,
                "history": history,
            }
        )
        return
    render_breakdown(info, breakdown, source, history)
    if predicted is not None:
        render_prediction(predicted)


def _prediction_view(session: Session, prediction: Prediction | None) -> dict[str, Any] | None:
    """The stored prediction, with reasons computed on demand when none were stored."""
    if prediction is None:
        return None
    view = {
        "probability": prediction.probability,
        "as_of": prediction.as_of.isoformat(),
        **prediction.factors,
    }
    if prediction.factors.get("stored") is False:
        from leadgate.predictive.training import explain_lead, load_model

        model = load_model(session, model_id=prediction.model_id)
        fresh = explain_lead(
            session, model=model, lead_id=prediction.lead_id, as_of=prediction.as_of
        )
        view.update({key: fresh[key] for key in ("up", "down", "base_log_odds")})
        view["stored"] = "computed on demand"
    return view


def render_prediction(predicted: dict[str, Any]) -> None:
    """Print a lead's predicted probability and its strongest factors up and down."""
    console.print(
        f"predicted probability of converting: [bold]{predicted['probability']:.1%}[/] "
        f"({predicted.get('model')}, as of {str(predicted['as_of'])[:16]})"
    )
    for direction, sign in (("up", "+"), ("down", "-")):
        for factor in predicted.get(direction, []):
            console.print(
                f"  {sign} {factor['reason']} ({factor['log_odds']:+.2f} log-odds)", highlight=False
            )


def render_breakdown(
    info: dict[str, Any], card: dict[str, Any], source: str, history: list[dict[str, Any]]
) -> None:
    """Print a scorecard breakdown for people."""
    account = info.get("account")
    company = ""
    if account:
        details = ", ".join(
            str(v)
            for v in (
                account.get("industry"),
                account.get("employees") and f"{account['employees']} employees",
                account.get("country"),
            )
            if v
        )
        company = f" at [bold]{account.get('name') or account.get('domain')}[/]"
        company += f" ({details})" if details else ""
    console.print(f"[bold]{info['email']}[/] ({info['id']}){company}", highlight=False)
    console.print(
        f"stage [bold]{info['stage']}[/]; {source} scorecard from {card['model']} "
        f"as of {card['as_of']}"
    )
    scores = "  ".join(f"{name} [bold]{value:.1f}[/]" for name, value in card["scores"].items())
    grade = f"  grade [bold]{card['grade']}[/]" if card.get("grade") else ""
    console.print(scores + grade)
    verdict = "[bold green]MQL[/]" if card["mql"] else "[yellow]not MQL[/]"
    console.print(f"verdict: {verdict}")
    for check in card.get("checks", []):
        mark = "[green]yes[/]" if check["passed"] else "[red]no[/]"
        console.print(f"  {mark}  {check['check']}: {check['value']}", highlight=False)
    table = Table("group", "rule", "points", "contribution", "evidence", title="rules")
    for rule in card["rules"]:
        if not rule["matched"] and rule["kind"] == "event":
            evidence = "no matching events"
        elif rule["kind"] == "attribute":
            evidence = "matches" if rule["matched"] else "does not match"
        elif rule["kind"] == "adjustment":
            evidence = (
                f"adjusted by {rule.get('actor') or 'someone'} on {(rule.get('at') or '')[:10]}: "
                f"{rule.get('description') or ''} (after the group's caps)"
            )
        else:
            events = rule["events"]
            latest = events[0]
            counted = len(events)
            total = rule["matched_count"]
            of = f"{counted} of {total}" if total != counted else f"{counted}"
            evidence = (
                f"{of} {latest['type']} event(s), latest {latest['ts'][:10]} "
                f"({latest['age_days']:.1f} d ago)"
            )
        style = "" if rule["matched"] else "dim"
        table.add_row(
            rule["group"],
            rule["rule_id"],
            f"{rule['points']:+g}",
            f"{rule['contribution']:+.1f}",
            evidence,
            style=style,
        )
    console.print(table)
    if history:
        console.print("[bold]stage history[/]")
        for change in history:
            console.print(
                f"  {change['at'][:16]}  {change['from'] or '-'} -> {change['to']}  "
                f"by {change['actor']}: {change['reason'] or ''}",
                highlight=False,
            )
