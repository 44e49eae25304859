"""Read models of a lead for the API and the CLI: its detail scored as of now, and
its timeline (events, stage changes, tasks, webhook deliveries in time order)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.service import account_summary
from leadgate.audit.service import audit_dict, list_audit
from leadgate.events.models import Event
from leadgate.leads.models import Qualification, StageChange
from leadgate.leads.service import get_lead
from leadgate.lifecycle import allowed_targets
from leadgate.scorecards.explain import explain_cards
from leadgate.scoring.nodes import ScoringModel
from leadgate.tasks.models import Task
from leadgate.tasks.service import list_tasks, task_dict
from leadgate.webhooks.service import delivery_dict, list_deliveries

__all__ = ["lead_detail", "timeline"]


def lead_detail(
    session: Session, *, ref: str, model: ScoringModel, now: datetime
) -> dict[str, Any]:
    """The lead with scores, grade and breakdown as of ``now`` (decay applied on read)."""
    lead = get_lead(session, ref=ref)
    cards = explain_cards(session, lead_ids=[lead.id], model=model, as_of=now)
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
        "account": account_summary(account),
        "owner": lead.owner,
        "tasks": [task_dict(task) for task in list_tasks(session, lead_id=lead.id)],
        "model": model.label,
        "as_of": now.isoformat(),
        "scores": {} if card is None else card.scores,
        "grade": None if card is None else card.grade,
        "mql": False if card is None else card.mql,
        "scorecard": None if card is None else card.to_dict(),
    }


def timeline(session: Session, *, ref: str, limit: int = 1000) -> dict[str, Any]:
    """A lead's story, oldest first: its events, stage changes (with the BANT of a
    qualification), tasks, webhook deliveries and audit entries (reassignments,
    completed tasks), the latest ``limit`` of them (``more``: older ones exist).

    At the same instant an event comes before the stage change it caused, the change
    before the task and the webhook its handoff created. Each kind is read newest
    first and at most ``limit`` + 1 rows, so a lead with a long history costs no
    more than the page it asked for.
    """
    lead = get_lead(session, ref=ref)
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
    for entry in list_audit(session, lead_id=lead.id, limit=rows):
        items.append((entry.at, 4, {"kind": "audit", **audit_dict(entry)}))
    qualifications = session.scalars(
        select(Qualification)
        .where(Qualification.lead_id == lead.id)
        .order_by(Qualification.at.desc(), Qualification.id.desc())
        .limit(rows)
    )
    for row in qualifications:
        items.append(
            (
                row.at,
                2,
                {
                    "kind": "qualification",
                    "at": row.at.isoformat(),
                    "actor": row.actor,
                    "budget": row.budget,
                    "authority": row.authority,
                    "need": row.need,
                    "timeline": row.timeline,
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
