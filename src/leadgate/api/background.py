"""Work ``leadgate serve`` does between requests: webhook deliveries and the scheduler.

* The delivery worker sends due webhook deliveries, each subscription in a
  bounded lane of its own behind a circuit breaker; it wakes at once when a
  request committed new outbox messages, and at least every second for retries.
* The scheduler runs every ``scheduler_interval_seconds`` (default 5 minutes):
  SLA escalation of overdue tasks, the optional MQL expiry, and, when the MQL
  definition can turn true with time alone (see :mod:`leadgate.backtest.shape`),
  a re-evaluation of the leads that could qualify, with their handoffs.
* Between those passes it sleeps until the next SLA deadline (a task falling due,
  an overdue task's reassignment) and escalates then, so an overdue flip reaches
  the open queue pages at its time, not up to an interval later; a task created
  or reassigned wakes it to look again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from leadgate.api.deps import ServiceState
from leadgate.backtest.shape import model_shape
from leadgate.common.changes import FEED, Change
from leadgate.common.ids import utcnow
from leadgate.exceptions import UnsupportedConstructError
from leadgate.ingest.segment import expire_anonymous
from leadgate.leads.models import Lead
from leadgate.lifecycle import AUTO_QUALIFY_FROM, Stage
from leadgate.qualification.service import enter_stage, qualify_leads
from leadgate.scorecards.service import evaluate_leads
from leadgate.tasks.models import Task
from leadgate.tasks.service import escalate_overdue
from leadgate.webhooks.worker import Dispatcher

__all__ = ["Background", "next_deadline", "run_scheduler_once", "run_sla_once"]

log = logging.getLogger("leadgate.serve")
#: changes that can move the next SLA deadline
_DEADLINE_KINDS = frozenset({"task.created", "task.reassigned", "lead.reassigned"})
#: past a deadline by this much before escalating (``due_at < now`` must hold)
_MARGIN = 0.05


def _rises_with_time(service: ServiceState) -> bool:
    try:
        return not model_shape(service.model).event_days_suffice
    except UnsupportedConstructError:
        return True  # no MQL definition or predictions: check anyway


def run_sla_once(service: ServiceState, now: datetime) -> dict[str, int]:
    """The SLA step alone: overdue tasks flagged, long-overdue ones reassigned."""
    settings = service.settings
    with service.write_lock, service.database.session() as session:
        counts = escalate_overdue(
            session,
            now=now,
            reassign_after=timedelta(minutes=settings.sla_reassign_after_minutes),
            fallback=settings.fallback_owner,
        )
    service.outbox_ready.set()
    return counts


def next_deadline(service: ServiceState, now: datetime) -> datetime | None:
    """When the SLA step next has work: the earliest open task to fall due, or an
    overdue one's reassignment time (None: no open task)."""
    reassign_after = timedelta(minutes=service.settings.sla_reassign_after_minutes)
    with service.reads.snapshot() as session:
        due = session.scalar(
            select(func.min(Task.due_at)).where(Task.status == "open", Task.escalations == 0)
        )
        escalated = session.scalar(
            select(func.min(Task.escalated_at)).where(Task.status == "open", Task.escalations > 0)
        )
    found = [moment for moment in (_aware(due), _aware(escalated)) if moment is not None]
    if escalated is not None:
        found[-1] += reassign_after
    return min(found) if found else None


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates skip the column type: SQLite hands back naive UTC datetimes."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def run_scheduler_once(service: ServiceState, now: datetime, *, chunk: int = 500) -> dict[str, int]:
    """One scheduler pass (also callable from tests and cron).

    Each step, and each ``chunk`` of leads re-evaluated, is its own short
    transaction: the ingest writer waits for the write lock at most one chunk,
    never a whole pass over every lead.
    """
    counts: dict[str, int] = {}
    settings = service.settings
    with service.write_lock, service.database.session() as session:
        counts["anonymous_expired"] = expire_anonymous(
            session, before=now - timedelta(days=settings.anonymous_retention_days)
        )
        counts.update(
            escalate_overdue(
                session,
                now=now,
                reassign_after=timedelta(minutes=settings.sla_reassign_after_minutes),
                fallback=settings.fallback_owner,
            )
        )
    if _rises_with_time(service):
        with service.database.session() as session:
            ids = list(
                session.scalars(
                    select(Lead.id).where(Lead.stage.in_([s.value for s in AUTO_QUALIFY_FROM]))
                )
            )
        counts["qualified"] = 0
        for start in range(0, len(ids), chunk):
            with service.write_lock, service.database.session() as session:
                _, batch = qualify_leads(
                    session,
                    lead_ids=ids[start : start + chunk],
                    model=service.model,
                    as_of=now,
                    handoff=service.handoff_policy,
                    now=now,
                )
                counts["qualified"] += len(batch)
    with service.write_lock, service.database.session() as session:
        if settings.mql_expiry_days is not None:
            cutoff = now - timedelta(days=settings.mql_expiry_days)
            stale = list(
                session.scalars(
                    select(Lead).where(
                        Lead.stage == Stage.MQL.value, Lead.stage_changed_at < cutoff
                    )
                )
            )
            _, cards = evaluate_leads(
                session, lead_ids=[lead.id for lead in stale], model=service.model, as_of=now
            )
            decayed = {card.lead_id for card in cards if not card.mql}
            changes = [
                enter_stage(
                    session,
                    lead=lead,
                    to=Stage.NURTURE,
                    actor=f"system:{service.model.label}",
                    at=now,
                    reason=f"expired: not accepted in {settings.mql_expiry_days:g} days "
                    "and no longer meets the MQL definition",
                    model=service.model,
                    handoff=service.handoff_policy,
                )
                for lead in stale
                if lead.id in decayed
            ]
            counts["expired"] = len(changes)
    service.outbox_ready.set()
    return counts


class Background:
    """The delivery worker and the scheduler threads of one service."""

    def __init__(self, service: ServiceState) -> None:
        self.service = service
        self.stopping = threading.Event()
        #: set when the next SLA deadline may have moved (a task created or reassigned)
        self.wake = threading.Event()
        self._unsubscribe = FEED.subscribe(self._on_changes)
        self.threads = [
            threading.Thread(target=self._deliveries, name="leadgate-deliveries", daemon=True),
            threading.Thread(target=self._scheduler, name="leadgate-scheduler", daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _on_changes(self, changes: Sequence[Change]) -> None:
        if any(change.kind in _DEADLINE_KINDS for change in changes):
            self.wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self._unsubscribe()
        self.wake.set()
        self.service.outbox_ready.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def _deliveries(self) -> None:
        """Each subscription in its own bounded lane (see :class:`Dispatcher`)."""
        with httpx.Client(timeout=10) as client:
            Dispatcher(self.service.database, client=client, wake=self.service.outbox_ready).serve(
                self.stopping
            )

    def _scheduler(self) -> None:
        interval = self.service.settings.scheduler_interval_seconds
        last_pass = time.monotonic()
        while not self.stopping.is_set():
            try:
                now = utcnow()
                until_pass = interval - (time.monotonic() - last_pass)
                deadline = next_deadline(self.service, now)
                until_deadline = (
                    None if deadline is None else (deadline - now).total_seconds() + _MARGIN
                )
                if until_pass <= 0:
                    run_scheduler_once(self.service, utcnow())
                    last_pass = time.monotonic()
                    continue
                if until_deadline is not None and until_deadline <= 0:
                    run_sla_once(self.service, utcnow())
                    continue
                wait = until_pass if until_deadline is None else min(until_pass, until_deadline)
                if self.wake.wait(timeout=wait):
                    self.wake.clear()
            except Exception:
                log.exception("scheduler pass failed")
                self.stopping.wait(timeout=1.0)
