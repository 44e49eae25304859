"""The handoff of a stage entry: run it, skip it on record, plan it, release it later.

Every path that moves a lead into a stage ends here: the service (ingest, REST,
scheduler) and the batch commands (``leadgate score``, ``leadgate rescore``).
The playbooks themselves run in :func:`leadgate.actions.runner.handoff`, each
action at most once per stage entry; this module decides *whether* they run
now, records a skipped handoff on the stage entry (``stage_changes.handoff``)
so it is never silently lost, and releases skipped ones later.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.actions.playbooks import Playbooks, default_playbooks, load_playbooks_file
from leadgate.actions.runner import applicable, handoff
from leadgate.actions.versions import stored_or
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.leads.models import Lead, StageChange
from leadgate.scorecards.service import account_record, lead_record

__all__ = [
    "SKIPPED",
    "HandoffPlan",
    "HandoffPolicy",
    "ReleaseResult",
    "hand_off",
    "hand_off_entries_after",
    "last_entry_id",
    "plan_handoff",
    "release_skipped",
    "skip_handoff",
]

#: ``stage_changes.handoff`` of an entry whose handoff a batch path did not run.
SKIPPED = "skipped"
#: ... and of such an entry once ``leadgate handoff release`` ran it.
RELEASED = "released"

_CHUNK = 500


@dataclass(frozen=True)
class HandoffPolicy:
    """What a handoff runs: the playbooks, and the owner when no rep is available."""

    playbooks: Playbooks
    fallback_owner: str

    @classmethod
    def configured(
        cls, settings: Settings, playbooks_file: Path | None = None, *, database: Database
    ) -> HandoffPolicy:
        """The live playbooks, the same for ``serve`` and every command: the latest
        version stored in ``database`` (saved in Settings); while none is stored,
        ``--playbooks`` if given, else ``LEADGATE_PLAYBOOKS_PATH``, else the shipped
        ones (a file only seeds them, as the first version would)."""
        path = playbooks_file or settings.playbooks_path
        seed = default_playbooks() if path is None else load_playbooks_file(path)
        playbooks, _ = stored_or(database, seed)
        return cls(playbooks=playbooks, fallback_owner=settings.fallback_owner)


def hand_off(
    session: Session, *, changes: Sequence[StageChange], policy: HandoffPolicy, now: datetime
) -> list[dict[str, Any]]:
    """Run the handoff of these stage entries in the caller's transaction (the
    ``lead.stage_changed`` message and the playbooks of the new stage)."""
    if not changes:
        return []
    return handoff(
        session,
        changes=changes,
        playbooks=policy.playbooks,
        now=now,
        fallback_owner=policy.fallback_owner,
    )


def last_entry_id(session: Session) -> int:
    """The newest stage entry's id (0 when none): entries after it are new."""
    return int(session.scalar(select(func.max(StageChange.id))) or 0)


def hand_off_entries_after(
    session: Session, *, after_id: int, policy: HandoffPolicy, now: datetime
) -> int:
    """Hand off the stage entries recorded after ``after_id`` that are still their
    lead's current entry (``leadgate import leads --handoff``); returns how many."""
    entries = list(
        session.scalars(
            select(StageChange)
            .join(Lead, Lead.id == StageChange.lead_id)
            .where(
                StageChange.id > after_id,
                StageChange.to_stage == Lead.stage,
                StageChange.at == Lead.stage_changed_at,
            )
            .order_by(StageChange.id)
        )
    )
    latest = list({entry.lead_id: entry for entry in entries}.values())  # newest per lead
    for start in range(0, len(latest), _CHUNK):
        hand_off(session, changes=latest[start : start + _CHUNK], policy=policy, now=now)
    return len(latest)


def skip_handoff(session: Session, *, changes: Sequence[StageChange]) -> int:
    """Record on each stage entry that its handoff was not run (see :func:`release_skipped`)."""
    for change in changes:
        change.handoff = SKIPPED
    session.flush()
    return len(changes)


@dataclass
class HandoffPlan:
    """What handing off some stage entries would create: entries, and actions by key."""

    entries: int = 0
    actions: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"handoffs": self.entries, "actions": dict(sorted(self.actions.items()))}

    def describe(self) -> str:
        """``12 handoffs: owner.assign 12, task.create 12, webhook.send 12``."""
        actions = ", ".join(f"{key} {count:,}" for key, count in sorted(self.actions.items()))
        return f"{self.entries:,} handoff(s)" + (f": {actions}" if actions else "")


def plan_handoff(
    session: Session,
    *,
    lead_ids: Sequence[str],
    stage: str,
    policy: HandoffPolicy,
    now: datetime,
) -> HandoffPlan:
    """The actions that entering ``stage`` would run for these leads, counted by key
    (each playbook's ``when`` checked against the lead as stored); nothing is written."""
    plan = HandoffPlan()
    for start in range(0, len(lead_ids), _CHUNK):
        leads = list(
            session.scalars(select(Lead).where(Lead.id.in_(list(lead_ids[start : start + _CHUNK]))))
        )
        account_ids = {lead.account_id for lead in leads if lead.account_id is not None}
        accounts = {
            account.id: account_record(account)
            for account in session.scalars(select(Account).where(Account.id.in_(account_ids)))
        }
        for lead in leads:
            plan.entries += 1
            account = accounts.get(lead.account_id) if lead.account_id is not None else None
            for playbook in applicable(policy.playbooks, stage, lead_record(lead), account, now):
                plan.actions.update(action.key for action in playbook.actions)
    return plan


@dataclass
class ReleaseResult:
    """What :func:`release_skipped` found and did."""

    released: int = 0
    stale: int = 0
    actions: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "stale": self.stale,
            "actions": dict(sorted(self.actions.items())),
        }


def release_skipped(
    session: Session,
    *,
    policy: HandoffPolicy,
    now: datetime,
    lead_ids: Sequence[str] | None = None,
    dry_run: bool = False,
) -> ReleaseResult:
    """Run the skipped handoffs of stage entries that are still the lead's current one.

    An entry the lead has since left (it moved on, or entered the stage again) is
    counted as stale and left as it is: its moment has passed, and a newer entry
    has its own handoff.
    """
    query = select(StageChange).where(StageChange.handoff == SKIPPED).order_by(StageChange.id)
    if lead_ids is not None:
        query = query.where(StageChange.lead_id.in_(list(lead_ids)))
    result = ReleaseResult()
    skipped = list(session.scalars(query))
    for start in range(0, len(skipped), _CHUNK):
        batch = skipped[start : start + _CHUNK]
        current = {
            row.id: (row.stage, row.stage_changed_at)
            for row in session.execute(
                select(Lead.id, Lead.stage, Lead.stage_changed_at).where(
                    Lead.id.in_([change.lead_id for change in batch])
                )
            )
        }
        latest: dict[str, int] = {}
        for change in batch:
            latest[change.lead_id] = max(latest.get(change.lead_id, 0), change.id)
        ready = [
            change
            for change in batch
            if current.get(change.lead_id) == (change.to_stage, change.at)
            and latest[change.lead_id] == change.id
        ]
        result.stale += len(batch) - len(ready)
        result.released += len(ready)
        if dry_run:
            for stage in {change.to_stage for change in ready}:
                plan = plan_handoff(
                    session,
                    lead_ids=[c.lead_id for c in ready if c.to_stage == stage],
                    stage=stage,
                    policy=policy,
                    now=now,
                )
                result.actions.update(plan.actions)
            continue
        ran = hand_off(session, changes=ready, policy=policy, now=now)
        result.actions.update(item["action"] for item in ran)
        for change in ready:
            change.handoff = RELEASED
        session.flush()
    return result
