"""Run the playbooks of a stage entry, each action at most once, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.actions.models import ActionRun
from leadgate.actions.playbooks import Playbook, Playbooks
from leadgate.actions.registry import ActionContext, registry
from leadgate.leads.models import Lead, StageChange
from leadgate.scorecards.service import account_record, lead_record
from leadgate.scoring.evaluator import record_matches
from leadgate.scoring.records import AccountRecord, LeadRecord
from leadgate.webhooks.service import enqueue

__all__ = ["applicable", "handoff"]


def applicable(
    playbooks: Playbooks,
    stage: str,
    lead: LeadRecord,
    account: AccountRecord | None,
    now: datetime,
) -> list[Playbook]:
    """The playbooks entering ``stage`` runs for this lead: those ``on`` it whose
    ``when`` holds (the handoff and its dry-run count both ask here)."""
    return [
        playbook
        for playbook in playbooks.for_stage(stage)
        if playbook.when is None or record_matches(playbook.when, lead, account, now)
    ]


def handoff(
    session: Session,
    *,
    changes: Sequence[StageChange],
    playbooks: Playbooks,
    now: datetime,
    fallback_owner: str,
) -> list[dict[str, Any]]:
    """For each stage change: send ``lead.stage_changed``, then run the playbooks whose
    ``on`` is the new stage and whose ``when`` holds. Returns the actions run."""
    types = registry()
    ran: list[dict[str, Any]] = []
    for change in changes:
        lead = session.get(Lead, change.lead_id)
        if lead is None:
            continue
        enqueue(
            session,
            event_type="lead.stage_changed",
            data={
                "lead_id": lead.id,
                "email": lead.email,
                "from": change.from_stage,
                "to": change.to_stage,
                "at": change.at.isoformat(),
                "actor": change.actor,
                "reason": change.reason,
            },
            now=now,
            lead_id=lead.id,
        )
        account = session.get(Account, lead.account_id) if lead.account_id else None
        record = account_record(account) if account is not None else None
        for playbook in applicable(playbooks, change.to_stage, lead_record(lead), record, now):
            for position, planned in enumerate(playbook.actions):
                done = session.scalar(
                    select(ActionRun.id).where(
                        ActionRun.stage_change_id == change.id,
                        ActionRun.playbook == playbook.id,
                        ActionRun.position == position,
                    )
                )
                if done is not None:
                    continue
                context = ActionContext(
                    session=session,
                    lead=lead,
                    change=change,
                    now=now,
                    fallback_owner=fallback_owner,
                )
                result = types[planned.key].run(context, planned.config)
                session.add(
                    ActionRun(
                        lead_id=lead.id,
                        stage_change_id=change.id,
                        playbook=playbook.id,
                        position=position,
                        action=planned.key,
                        result=result,
                        at=now,
                    )
                )
                session.flush()
                ran.append({"playbook": playbook.id, "action": planned.key, **result})
    return ran
