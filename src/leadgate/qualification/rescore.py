"""Applying a bulk rescore (``leadgate rescore`` on the database) through the one path:
the stage changes in bulk, the moved leads' scorecards from the evaluator, and the
handoff of every entry (or its skip on record); and the dry run's handoff count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.common.ids import utcnow
from leadgate.leads.models import Lead, StageChange
from leadgate.lifecycle import Stage
from leadgate.qualification.handoff import HandoffPlan, HandoffPolicy, plan_handoff
from leadgate.qualification.service import BatchQualification, settle
from leadgate.rescoring.service import RescorePlan, apply_plan
from leadgate.scorecards.service import evaluate_to_store, upsert_scorecards
from leadgate.scoring.nodes import ScoringModel

__all__ = ["apply_rescore", "plan_rescore_handoff"]


def plan_rescore_handoff(
    session: Session, *, plan: RescorePlan, policy: HandoffPolicy, demote: bool, now: datetime
) -> HandoffPlan:
    """What applying ``plan`` would hand off: its MQL entries (and, with ``demote``,
    its nurture entries), with the playbook actions each would run."""
    total = plan_handoff(
        session,
        lead_ids=[change.lead_id for change in plan.enter],
        stage=Stage.MQL.value,
        policy=policy,
        now=now,
    )
    if demote:
        back = plan_handoff(
            session,
            lead_ids=[change.lead_id for change in plan.leave],
            stage=Stage.NURTURE.value,
            policy=policy,
            now=now,
        )
        total.entries += back.entries
        total.actions.update(back.actions)
    return total


def apply_rescore(
    session: Session,
    *,
    plan: RescorePlan,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    demote: bool = False,
    now: datetime | None = None,
    actor: str | None = None,
) -> tuple[dict[str, int], BatchQualification]:
    """Apply a bulk rescore's stage changes, store the moved leads' scorecards (the
    evaluator's, as of the plan's instant) and hand the entries off."""
    applied = apply_plan(session, plan, actor=actor, demote=demote)
    moved = [change.lead_id for change in plan.enter] + (
        [change.lead_id for change in plan.leave] if demote else []
    )
    latest: dict[str, StageChange] = {}
    for start in range(0, len(moved), 500):
        # the entries this apply made (a lead changed since the plan was read is skipped)
        entries = session.scalars(
            select(StageChange)
            .join(Lead, Lead.id == StageChange.lead_id)
            .where(
                StageChange.lead_id.in_(moved[start : start + 500]),
                StageChange.at == plan.as_of,
                StageChange.to_stage == Lead.stage,
                Lead.stage_changed_at == plan.as_of,
            )
            .order_by(StageChange.lead_id, StageChange.id)
        )
        batch = {change.lead_id: change for change in entries}
        latest.update(batch)
        # their scorecards (and, with roll-ups, their account mates'): what counts for
        # them changed with the stage (see counted_events)
        _, cards, digests = evaluate_to_store(
            session, lead_ids=list(batch), model=model, as_of=plan.as_of
        )
        upsert_scorecards(session, cards=cards, computed_at=utcnow(), inputs_digests=digests)
    return applied, settle(session, list(latest.values()), handoff, now or utcnow())
