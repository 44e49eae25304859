"""Work ``leadgate serve`` does between requests: webhook deliveries and the scheduler.

* The delivery worker sends due webhook deliveries; it wakes at once when a
  request committed new outbox messages, and at least every second for retries.
* The scheduler runs every ``scheduler_interval_seconds`` (default 5 minutes):
  SLA escalation of overdue tasks, the optional MQL expiry, and, when the MQL
  definition can turn true with time alone (see :mod:`leadgate.backtest.shape`),
  a re-evaluation of the leads that could qualify, with their handoffs.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from leadgate.api.deps import ServiceState
from leadgate.backtest.shape import model_shape
from leadgate.common.ids import utcnow
from leadgate.exceptions import UnsupportedConstructError
from leadgate.ingest.segment import expire_anonymous
from leadgate.leads.models import Lead
from leadgate.lifecycle import AUTO_QUALIFY_FROM, Stage
from leadgate.qualification.service import enter_stage, qualify_leads
from leadgate.scorecards.service import evaluate_leads
from leadgate.tasks.service import escalate_overdue
from leadgate.webhooks.worker import deliver_due

__all__ = ["Background", "run_scheduler_once"]

log = logging.getLogger("leadgate.serve")


def _rises_with_time(service: ServiceState) -> bool:
    try:
        return not model_shape(service.model).event_days_suffice
    except UnsupportedConstructError:
        return True  # no MQL definition or predictions: check anyway


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
        self.threads = [
            threading.Thread(target=self._deliveries, name="leadgate-deliveries", daemon=True),
            threading.Thread(target=self._scheduler, name="leadgate-scheduler", daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.service.outbox_ready.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def _deliveries(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stopping.is_set():
                self.service.outbox_ready.wait(timeout=1.0)
                self.service.outbox_ready.clear()
                try:
                    while deliver_due(self.service.database, now=utcnow(), client=client) and (
                        not self.stopping.is_set()
                    ):
                        pass
                except Exception:  # keep delivering after a database hiccup
                    log.exception("webhook delivery pass failed")

    def _scheduler(self) -> None:
        interval = self.service.settings.scheduler_interval_seconds
        while not self.stopping.wait(timeout=interval):
            try:
                run_scheduler_once(self.service, utcnow())
            except Exception:
                log.exception("scheduler pass failed")
