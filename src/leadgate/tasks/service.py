"""Tasks with SLA due times, their completion, and SLA escalation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from leadgate.common.ids import new_id
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead
from leadgate.reps.models import Rep
from leadgate.reps.service import choose_owner
from leadgate.tasks.models import Task
from leadgate.webhooks.service import enqueue

__all__ = ["complete_task", "create_task", "escalate_overdue", "list_tasks", "task_dict"]


def task_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "lead_id": task.lead_id,
        "owner": task.owner,
        "title": task.title,
        "status": task.status,
        "created_at": task.created_at.isoformat(),
        "due_at": task.due_at.isoformat(),
        "completed_at": None if task.completed_at is None else task.completed_at.isoformat(),
        "sla_met": task.sla_met,
        "escalations": task.escalations,
    }


def create_task(
    session: Session,
    *,
    lead: Lead,
    owner: str,
    title: str,
    due_in: timedelta,
    now: datetime,
    stage_change_id: int | None = None,
) -> Task:
    """A task for ``owner`` due ``due_in`` from now; ``task.created`` goes to the outbox."""
    task = Task(
        id=new_id("tk"),
        lead_id=lead.id,
        stage_change_id=stage_change_id,
        owner=owner,
        title=title,
        status="open",
        created_at=now,
        due_at=now + due_in,
        escalations=0,
        sla_seconds=int(due_in.total_seconds()),
    )
    session.add(task)
    session.flush()
    enqueue(session, event_type="task.created", data=task_dict(task), now=now, lead_id=lead.id)
    return task


def list_tasks(
    session: Session,
    *,
    owner: str | None = None,
    status: str | None = None,
    lead_id: str | None = None,
    limit: int = 100,
    team: frozenset[str] | None = None,
) -> Sequence[Task]:
    """Tasks soonest due first; with ``team``, only those owned by one of ``team`` or
    by a queue (what a rep or manager may see)."""
    query = select(Task)
    if team is not None:
        query = query.where(or_(Task.owner.like("queue:%"), Task.owner.in_(sorted(team))))
    if owner is not None:
        query = query.where(Task.owner == owner.lower())
    if status is not None:
        query = query.where(Task.status == status)
    if lead_id is not None:
        query = query.where(Task.lead_id == lead_id)
    return session.scalars(query.order_by(Task.due_at, Task.id).limit(limit)).all()


def complete_task(session: Session, *, task_id: str, now: datetime) -> Task:
    """Mark done; the SLA is met when it was completed by its due time."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"no task {task_id!r}")
    if task.status == "done":
        raise LeadgateError(f"task {task_id} is already done")
    task.status = "done"
    task.completed_at = now
    if task.sla_met is None:
        task.sla_met = now <= task.due_at
    return task


def escalate_overdue(
    session: Session, *, now: datetime, reassign_after: timedelta, fallback: str
) -> dict[str, int]:
    """The SLA policy for open tasks past due.

    First ``task.overdue`` is sent and the SLA recorded as missed; when a task is
    still open ``reassign_after`` later, it moves to the owner's manager, else the
    next available rep (weighted round robin, not the current owner), with a new
    due time, and ``task.reassigned`` is sent.
    """
    counts = {"overdue": 0, "reassigned": 0}
    tasks = session.scalars(
        select(Task).where(Task.status == "open", Task.due_at < now).order_by(Task.due_at)
    ).all()
    for task in tasks:
        lead = session.get(Lead, task.lead_id)
        if lead is None:
            continue
        if task.escalations == 0:
            task.sla_met = False
            task.escalations = 1
            task.escalated_at = now
            enqueue(
                session, event_type="task.overdue", data=task_dict(task), now=now, lead_id=lead.id
            )
            counts["overdue"] += 1
            continue
        if task.escalated_at is not None and now - task.escalated_at < reassign_after:
            continue
        current = session.get(Rep, task.owner)
        manager = current.manager if current is not None else None
        if manager:
            owner, how = manager, "manager"
        else:
            owner, how = choose_owner(
                session,
                lead=lead,
                fallback=fallback,
                now=now,
                exclude=frozenset({task.owner}),
                use_account_owner=False,
            )
        previous = task.owner
        sla = timedelta(seconds=task.sla_seconds)
        task.owner = owner
        task.escalations += 1
        task.escalated_at = now
        task.due_at = now + sla
        lead.owner = owner
        data = {**task_dict(task), "previous_owner": previous, "reassigned_by": how}
        enqueue(session, event_type="task.reassigned", data=data, now=now, lead_id=lead.id)
        counts["reassigned"] += 1
    return counts
