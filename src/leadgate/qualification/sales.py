"""What sales does to a lead, checked against who does it: move it (accept, reject,
qualify with BANT), reassign it, complete its tasks.

The web app and the REST API call these with the acting user (a signed-in user or a
key that belongs to one): role boundaries are enforced here, once, and every action
is recorded with that user as the actor (stage history or audit trail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.audit.service import record
from leadgate.common.changes import note_change
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead, Qualification, StageChange
from leadgate.leads.service import check_move, get_lead
from leadgate.lifecycle import Stage
from leadgate.qualification.handoff import HandoffPolicy
from leadgate.qualification.service import enter_stage
from leadgate.reps.models import Rep
from leadgate.reps.service import assignable_reps
from leadgate.scoring.nodes import ScoringModel
from leadgate.tasks.models import Task
from leadgate.tasks.service import complete_task
from leadgate.users.service import Viewer, require_act
from leadgate.webhooks.service import enqueue

__all__ = ["Bant", "complete_lead_task", "move_lead", "reassign_lead"]

_BANT_LIMIT = 2000


@dataclass(frozen=True)
class Bant:
    """Budget, authority, need, timeline: what sales learned when it qualified the lead."""

    budget: str | None = None
    authority: str | None = None
    need: str | None = None
    timeline: str | None = None

    def cleaned(self) -> Bant:
        values = {}
        for name in ("budget", "authority", "need", "timeline"):
            text = (getattr(self, name) or "").strip() or None
            if text is not None and len(text) > _BANT_LIMIT:
                raise LeadgateError(f"{name} may have at most {_BANT_LIMIT} characters")
            values[name] = text
        return Bant(**values)

    @property
    def empty(self) -> bool:
        return not any((self.budget, self.authority, self.need, self.timeline))


def move_lead(
    session: Session,
    *,
    viewer: Viewer | None,
    actor: str,
    ref: str,
    to: Stage,
    reason: str | None,
    reasons: Sequence[str],
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    now: datetime,
    bant: Bant | None = None,
    require_bant: bool = False,
) -> StageChange:
    """Move a lead by hand (accept to ``sal``, reject to ``nurture`` or
    ``disqualified`` with a listed reason, qualify to ``sql`` with BANT...).

    ``viewer`` (None for a key that belongs to no user) must be allowed to act on
    the lead. With ``require_bant`` (the web form) a move to ``sql`` needs at least
    one BANT field (the API keeps it optional for existing clients); BANT is
    refused on any other move (it would be recorded against nothing).
    """
    lead, text = check_move(session, ref=ref, to=to, reason=reason, reasons=reasons)
    if viewer is not None:
        require_act(viewer, lead)
    facts = (bant or Bant()).cleaned()
    if to is Stage.SQL and facts.empty and require_bant:
        raise LeadgateError(
            "qualifying a lead (to sql) records what sales learned: give at least one of "
            "budget, authority, need, timeline"
        )
    if to is not Stage.SQL and not facts.empty:
        raise LeadgateError("budget, authority, need and timeline are recorded on a move to sql")
    change = enter_stage(
        session,
        lead=lead,
        to=to,
        actor=actor,
        at=now,
        reason=text,
        model=model,
        handoff=handoff,
    )
    if to is Stage.SQL and not facts.empty:
        session.add(
            Qualification(
                lead_id=lead.id,
                stage_change_id=change.id,
                budget=facts.budget,
                authority=facts.authority,
                need=facts.need,
                timeline=facts.timeline,
                actor=actor,
                at=now,
            )
        )
    return change


def reassign_lead(
    session: Session, *, viewer: Viewer | None, actor: str, ref: str, owner: str, now: datetime
) -> Lead:
    """Give a lead (and its open tasks) to another rep, or back to a queue
    (``queue:...``). The target rep must exist, be available and not away today."""
    lead = get_lead(session, ref=ref)
    if viewer is not None:
        require_act(viewer, lead)
    target = owner.strip().lower()
    if not target.startswith("queue:"):
        rep = session.get(Rep, target)
        if rep is None:
            raise NotFoundError(f"no rep {owner!r}")
        if rep not in assignable_reps(session, now=now):
            raise LeadgateError(f"rep {rep.email} is unavailable or away: choose another owner")
    previous = lead.owner
    if previous == target:
        return lead
    lead.owner = target
    lead.updated_at = now
    tasks = session.scalars(select(Task).where(Task.lead_id == lead.id, Task.status == "open"))
    moved = 0
    for task in tasks:
        task.owner = target
        moved += 1
    detail = {"from": previous, "to": target, "open_tasks": moved}
    record(session, actor=actor, action="lead.reassigned", at=now, lead_id=lead.id, detail=detail)
    enqueue(
        session,
        event_type="lead.reassigned",
        data={"lead_id": lead.id, "email": lead.email, "actor": actor, **detail},
        now=now,
        lead_id=lead.id,
    )
    note_change(session, kind="lead.reassigned", lead_id=lead.id)
    return lead


def complete_lead_task(
    session: Session, *, viewer: Viewer | None, actor: str, task_id: str, now: datetime
) -> Task:
    """Mark a task done (its SLA met when done by its due time), on the record."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"no task {task_id!r}")
    lead = session.get(Lead, task.lead_id)
    if viewer is not None and lead is not None:
        require_act(viewer, lead)
    complete_task(session, task_id=task_id, now=now)
    record(
        session,
        actor=actor,
        action="task.completed",
        at=now,
        lead_id=task.lead_id,
        detail={"task_id": task.id, "title": task.title, "sla_met": task.sla_met},
    )
    note_change(session, kind="task.completed", lead_id=task.lead_id)
    return task
