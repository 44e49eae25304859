"""What the lead endpoints do, as keyword-only functions over a session (no HTTP here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.events.models import Event
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import find_lead, upsert_lead
from leadgate.lifecycle import Stage, allowed_targets, check_transition
from leadgate.scorecards.models import StoredScorecard
from leadgate.scorecards.service import evaluate_leads, score_leads
from leadgate.scoring.nodes import ScoringModel
from leadgate.tasks.models import Task
from leadgate.tasks.service import list_tasks, task_dict
from leadgate.webhooks.service import delivery_dict, list_deliveries

__all__ = ["check_move", "lead_detail", "list_leads", "timeline", "upsert"]

#: Moves that send a lead back and must say why.
_NEEDS_REASON = {
    (Stage.MQL, Stage.NURTURE),
    (Stage.MQL, Stage.DISQUALIFIED),
    (Stage.SAL, Stage.NURTURE),
    (Stage.SAL, Stage.DISQUALIFIED),
    (Stage.SQL, Stage.NURTURE),
    (Stage.SQL, Stage.DISQUALIFIED),
    (Stage.OPPORTUNITY, Stage.NURTURE),
    (Stage.OPPORTUNITY, Stage.DISQUALIFIED),
}
#: Rejections of a fresh MQL take a reason from the configured list (reports group by it).
_LISTED_REASON = {(Stage.MQL, Stage.NURTURE), (Stage.MQL, Stage.DISQUALIFIED)}


def _lead(session: Session, ref: str) -> Lead:
    lead = find_lead(session, ref=ref)
    if lead is None:
        raise NotFoundError(f"no lead {ref!r}")
    return lead


def upsert(
    session: Session, *, data: LeadCreate, model: ScoringModel, now: datetime, actor: str
) -> tuple[str, bool, list[StageChange]]:
    """Create or update a lead and score it at once (fit may qualify it); returns the
    lead id, whether it was created, and the stage changes scoring made."""
    lead, created = upsert_lead(session, data=data, now=now, actor=actor)
    _, qualified = score_leads(session, lead_ids=[lead.id], model=model, as_of=now)
    return lead.id, created, [q.change for q in qualified if q.change is not None]


def lead_detail(
    session: Session, *, ref: str, model: ScoringModel, now: datetime
) -> dict[str, Any]:
    """The lead with scores, grade and breakdown as of ``now`` (decay applied on read)."""
    lead = _lead(session, ref)
    _, cards = evaluate_leads(session, lead_ids=[lead.id], model=model, as_of=now)
    card = next((c for c in cards if c.lead_id == lead.id), None)
    account = session.get(Account, lead.account_id) if lead.account_id else None
    return {
        "id": lead.id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "title": lead.title,
        "country": lead.country,
        "source": lead.source,
        "channel": lead.channel,
        "campaign": lead.campaign,
        "attributes": lead.attributes or {},
        "stage": lead.stage,
        "stage_changed_at": lead.stage_changed_at.isoformat(),
        "allowed_moves": [stage.value for stage in allowed_targets(lead.stage)],
        "account": None
        if account is None
        else {
            "id": account.id,
            "name": account.name,
            "domain": account.domain,
            "industry": account.industry,
            "employees": account.employees,
            "country": account.country,
            "tier": account.tier,
        },
        "owner": lead.owner,
        "tasks": [task_dict(task) for task in list_tasks(session, lead_id=lead.id)],
        "model": model.label,
        "as_of": now.isoformat(),
        "scores": {} if card is None else card.scores,
        "grade": None if card is None else card.grade,
        "mql": False if card is None else card.mql,
        "scorecard": None if card is None else card.to_dict(),
    }


def list_leads(
    session: Session,
    *,
    model: ScoringModel,
    stage: Stage | None,
    owner: str | None,
    grade: str | None,
    min_score: float | None,
    max_score: float | None,
    group: str | None,
    account: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Leads matching the filters (scores and grades as last stored), newest move first."""
    query = (
        select(Lead, StoredScorecard)
        .outerjoin(StoredScorecard, StoredScorecard.lead_id == Lead.id)
        .outerjoin(Account, Account.id == Lead.account_id)
    )
    conditions = []
    if stage is not None:
        conditions.append(Lead.stage == stage.value)
    if owner is not None:
        conditions.append(Lead.owner == owner.lower())
    if grade is not None:
        conditions.append(StoredScorecard.grade == grade)
    if account is not None:
        conditions.append(or_(Lead.account_id == account, Account.domain == account.lower()))
    if min_score is not None or max_score is not None:
        name = group or (model.group_names[0] if model.group_names else None)
        if name is None or name not in model.group_names:
            raise LeadgateError(f"group: choose one of {', '.join(model.group_names)}")
        score = cast(func.json_extract(StoredScorecard.scores, f"$.{name}"), Float)
        if session.get_bind().dialect.name == "postgresql":
            score = cast(StoredScorecard.scores[name].astext, Float)
        if min_score is not None:
            conditions.append(score >= min_score)
        if max_score is not None:
            conditions.append(score <= max_score)
    if conditions:
        query = query.where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.execute(
        query.order_by(Lead.stage_changed_at.desc(), Lead.id).limit(limit).offset(offset)
    ).all()
    return {
        "total": total,
        "leads": [
            {
                "id": lead.id,
                "email": lead.email,
                "stage": lead.stage,
                "account_id": lead.account_id,
                "scores": card.scores if card is not None else {},
                "grade": card.grade if card is not None else None,
                "scored_at": card.as_of.isoformat() if card is not None else None,
            }
            for lead, card in rows
        ],
    }


def timeline(session: Session, *, ref: str, limit: int = 1000) -> dict[str, Any]:
    """A lead's story, oldest first: its events, stage changes, tasks and webhook
    deliveries, the latest ``limit`` of them (``more``: older ones exist).

    At the same instant an event comes before the stage change it caused, the change
    before the task and the webhook its handoff created. Each kind is read newest
    first and at most ``limit`` + 1 rows, so a lead with a long history costs no
    more than the page it asked for.
    """
    lead = _lead(session, ref)
    rows = limit + 1
    items: list[tuple[datetime, int, dict[str, Any]]] = []
    events = session.scalars(
        select(Event)
        .where(Event.lead_id == lead.id)
        .order_by(Event.occurred_at.desc(), Event.received_at.desc(), Event.event_id.desc())
        .limit(rows)
    )
    for event in events:
        items.append(
            (
                event.occurred_at,
                0,
                {
                    "kind": "event",
                    "at": event.occurred_at.isoformat(),
                    "type": event.type,
                    "event_id": event.event_id,
                    "channel": event.channel,
                    "campaign": event.campaign,
                    "properties": event.properties or {},
                },
            )
        )
    changes = session.scalars(
        select(StageChange)
        .where(StageChange.lead_id == lead.id)
        .order_by(StageChange.at.desc(), StageChange.id.desc())
        .limit(rows)
    )
    for change in changes:
        items.append(
            (
                change.at,
                1,
                {
                    "kind": "stage_change",
                    "at": change.at.isoformat(),
                    "from": change.from_stage,
                    "to": change.to_stage,
                    "actor": change.actor,
                    "reason": change.reason,
                },
            )
        )
    tasks = session.scalars(
        select(Task)
        .where(Task.lead_id == lead.id)
        .order_by(Task.created_at.desc(), Task.id.desc())
        .limit(rows)
    )
    for task in tasks:
        items.append(
            (
                task.created_at,
                2,
                {"kind": "task", "at": task.created_at.isoformat(), **task_dict(task)},
            )
        )
    for delivery, message in list_deliveries(session, lead_id=lead.id, limit=rows):
        items.append(
            (
                delivery.created_at,
                3,
                {
                    "kind": "webhook",
                    "at": delivery.created_at.isoformat(),
                    **delivery_dict(delivery, message),
                },
            )
        )
    # stable: within a kind and instant, the order read (newest first) is reversed below
    items.reverse()
    items.sort(key=lambda item: (item[0], item[1]))
    return {
        "lead_id": lead.id,
        "items": [item for _, _, item in items[-limit:]],
        "more": len(items) > limit,
    }


def check_move(
    session: Session,
    *,
    ref: str,
    to: Stage,
    reason: str | None,
    reasons: Sequence[str],
) -> tuple[Lead, str | None]:
    """A sales move, checked: the lead and the cleaned reason; refused (409) when the
    table does not allow it, 422 without a reason (or with one not configured)."""
    lead = _lead(session, ref)
    source = Stage(lead.stage)
    check_transition(source, to)
    text = (reason or "").strip() or None
    if (source, to) in _NEEDS_REASON and text is None:
        raise LeadgateError(f"moving a lead from {source.value} to {to.value} needs a reason")
    if (source, to) in _LISTED_REASON and text not in reasons:
        raise LeadgateError(
            f"reason {text!r} is not one of the configured reasons: {', '.join(reasons)}"
        )
    return lead, text
