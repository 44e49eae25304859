"""Claiming due deliveries and recording attempts, safe with several workers.

A claim is a lease written into ``next_attempt_at``: a worker moves a due
delivery's ``next_attempt_at`` to ``now + lease`` with a compare-and-set
``UPDATE`` (the row still pending, with the attempt count and due time the worker
read). Exactly one worker's update matches; on PostgreSQL a concurrent one waits
for the row lock and then no longer matches, on SQLite writers take turns. While
the lease runs the delivery is not due for anyone else; a worker that dies
mid-attempt leaves it to be retried when the lease ends. The outcome is recorded
with the same compare-and-set on the lease, so a delivery replayed, deactivated
or taken over in the meantime is left as the other party set it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update

from leadgate.db.engine import Database
from leadgate.webhooks.models import Delivery, OutboxMessage, Subscription
from leadgate.webhooks.service import RETRY_FOR, backoff

__all__ = ["Job", "claim_due", "dead_letter_held", "record_attempt"]


@dataclass(frozen=True)
class Job:
    """One claimed delivery: what to send, and the lease that proves the claim."""

    delivery_id: int
    subscription_id: str
    message_id: str
    payload: dict[str, Any]
    url: str
    secret: str
    attempts: int
    created_at: datetime
    lease_until: datetime


def _changed(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def claim_due(
    database: Database,
    *,
    now: datetime,
    room: Callable[[str], int],
    skip: Collection[str],
    most: int,
    per_subscription: int,
    lease: timedelta,
) -> list[Job]:
    """Claim up to ``most`` due deliveries, the earliest first, at most ``room(sub)``
    of each subscription (never any of ``skip``), each subscription's in
    ``(next_attempt_at, id)`` order."""
    if most <= 0:
        return []
    rank = (
        func.row_number()
        .over(
            partition_by=Delivery.subscription_id,
            order_by=(Delivery.next_attempt_at, Delivery.id),
        )
        .label("rank")
    )
    heads = (
        select(Delivery.id, rank)
        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
        .where(Delivery.subscription_id.not_in(list(skip)))
        .subquery()
    )
    with database.session() as session:
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.subscription_id,
                Delivery.next_attempt_at,
                Delivery.attempts,
                Delivery.created_at,
                OutboxMessage.id,
                OutboxMessage.payload,
                Subscription.url,
                Subscription.secret,
            )
            .join(heads, heads.c.id == Delivery.id)
            .join(OutboxMessage, OutboxMessage.id == Delivery.message_id)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(heads.c.rank <= per_subscription)
            .order_by(Delivery.next_attempt_at, Delivery.id)
        ).all()
    taken: dict[str, int] = {}
    wanted: list[Any] = []
    for row in rows:
        sub = row[1]
        if len(wanted) < most and taken.get(sub, 0) < room(sub):
            taken[sub] = taken.get(sub, 0) + 1
            wanted.append(row)
    jobs: list[Job] = []
    if not wanted:
        return jobs
    lease_until = now + lease
    with database.session() as session:
        for (
            delivery_id,
            sub,
            due_at,
            attempts,
            created_at,
            message_id,
            payload,
            url,
            secret,
        ) in wanted:
            claimed = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == "pending",
                    Delivery.attempts == attempts,
                    Delivery.next_attempt_at == due_at,
                )
                .values(next_attempt_at=lease_until)
                .execution_options(synchronize_session=False)
            )
            if _changed(claimed) == 1:
                jobs.append(
                    Job(
                        delivery_id=delivery_id,
                        subscription_id=sub,
                        message_id=message_id,
                        payload=payload,
                        url=url,
                        secret=secret,
                        attempts=attempts,
                        created_at=created_at,
                        lease_until=lease_until,
                    )
                )
    return jobs


def record_attempt(
    database: Database, job: Job, *, at: datetime, status: int | None, error: str | None
) -> str | None:
    """Record one attempt of a claimed delivery: ``delivered`` on success, else
    ``pending`` again after :func:`backoff`, or ``dead`` once that would pass the
    24-hour retry window. Returns the new status (None: the claim was lost)."""
    attempts = job.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status": status, "last_error": error}
    if error is None:
        values.update(status="delivered", delivered_at=at)
    elif at + backoff(attempts) > job.created_at + RETRY_FOR:
        values.update(status="dead")
    else:
        values.update(status="pending", next_attempt_at=at + backoff(attempts))
    with database.session() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.id == job.delivery_id,
                Delivery.status == "pending",
                Delivery.attempts == job.attempts,
                Delivery.next_attempt_at == job.lease_until,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if _changed(result) != 1:
            return None
    return str(values["status"])


def dead_letter_held(database: Database, *, now: datetime, held: dict[str, str | None]) -> int:
    """Dead-letter the due deliveries of open circuits (``held``: subscription id to
    its last error) whose 24-hour retry window has passed; returns how many."""
    count = 0
    if not held:
        return count
    with database.session() as session:
        for sub, error in sorted(held.items()):
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.subscription_id == sub,
                    Delivery.status == "pending",
                    Delivery.next_attempt_at <= now,
                    Delivery.created_at <= now - RETRY_FOR,
                )
                .values(status="dead", last_error=f"circuit open: {error}"[:500])
                .execution_options(synchronize_session=False)
            )
            count += _changed(result)
    return count
