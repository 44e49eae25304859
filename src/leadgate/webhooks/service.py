"""Subscriptions, the transactional outbox, and delivery bookkeeping (no HTTP here).

A change that should notify the outside world calls :func:`enqueue` in its own
transaction: the message and one pending delivery per matching subscription are
committed with the change, or not at all. The delivery worker
(:mod:`leadgate.webhooks.worker`) sends them afterwards, signed per the Standard
Webhooks specification, retrying with exponential backoff for 24 hours before a
delivery is dead-lettered; any delivery can be replayed.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadgate.common.changes import note_change
from leadgate.common.ids import new_id
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.webhooks.models import Delivery, OutboxMessage, Subscription

__all__ = [
    "EVENT_TYPES",
    "RETRY_FOR",
    "SubscriptionIn",
    "backoff",
    "create_subscription",
    "deactivate_subscription",
    "delivery_dict",
    "enqueue",
    "list_deliveries",
    "replay_delivery",
]

#: The event types leadgate sends.
EVENT_TYPES = (
    "lead.mql",
    "lead.stage_changed",
    "lead.sequence_enrolled",
    "task.created",
    "task.overdue",
    "task.reassigned",
    "lead.reassigned",
)
#: How long a delivery is retried before it is dead-lettered.
RETRY_FOR = timedelta(hours=24)


class SubscriptionIn(BaseModel):
    """``POST /api/v1/webhooks``: where, and which event types (``*`` for all)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        for name in value:
            if name != "*" and name not in EVENT_TYPES:
                raise ValueError(f"unknown event type {name!r}; types: {', '.join(EVENT_TYPES)}")
        return sorted(set(value))


def create_subscription(
    session: Session, *, data: SubscriptionIn, now: datetime
) -> tuple[Subscription, str]:
    """A subscription and its signing secret (``whsec_...``, returned this once)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    subscription = Subscription(
        id=new_id("wh"),
        url=data.url,
        events=data.events,
        secret=secret,
        active=True,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def deactivate_subscription(session: Session, *, subscription_id: str) -> Subscription:
    """Stop sending to a subscription: it gets no new messages, and its pending
    deliveries are dead-lettered (``subscription deactivated``)."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFoundError(f"no webhook subscription {subscription_id!r}")
    subscription.active = False
    session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.status == "pending")
        .values(status="dead", last_error="subscription deactivated")
    )
    return subscription


def enqueue(
    session: Session,
    *,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
    lead_id: str | None = None,
) -> OutboxMessage | None:
    """Write a message and its pending deliveries in the caller's transaction.

    Nothing is written when no active subscription wants ``event_type``; the change
    is published to this process's live pages on commit either way.
    """
    note_change(session, kind=event_type, lead_id=lead_id)
    wanted = [
        sub
        for sub in session.scalars(select(Subscription).where(Subscription.active.is_(True)))
        if event_type in sub.events or "*" in sub.events
    ]
    if not wanted:
        return None
    message_id = new_id("msg")
    message = OutboxMessage(
        id=message_id,
        event_type=event_type,
        lead_id=lead_id,
        payload={"type": event_type, "timestamp": now.isoformat(), "data": data},
        created_at=now,
    )
    session.add(message)
    session.flush()  # the deliveries reference it
    for sub in wanted:
        session.add(
            Delivery(
                message_id=message_id,
                subscription_id=sub.id,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.flush()
    return message


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 5 s doubling, at most an hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def delivery_dict(delivery: Delivery, message: OutboxMessage | None = None) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "subscription_id": delivery.subscription_id,
        "event_type": None if message is None else message.event_type,
        "lead_id": None if message is None else message.lead_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat(),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "delivered_at": None
        if delivery.delivered_at is None
        else delivery.delivered_at.isoformat(),
        "created_at": delivery.created_at.isoformat(),
    }


def list_deliveries(
    session: Session, *, status: str | None = None, lead_id: str | None = None, limit: int = 100
) -> Sequence[tuple[Delivery, OutboxMessage]]:
    query = select(Delivery, OutboxMessage).join(
        OutboxMessage, OutboxMessage.id == Delivery.message_id
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if lead_id is not None:
        query = query.where(OutboxMessage.lead_id == lead_id)
    rows = session.execute(query.order_by(Delivery.id.desc()).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]


def replay_delivery(session: Session, *, delivery_id: int, now: datetime) -> Delivery:
    """Send a delivery again (dead or delivered): pending now, with a fresh 24 hours."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFoundError(f"no delivery {delivery_id}")
    subscription = session.get(Subscription, delivery.subscription_id)
    if subscription is not None and not subscription.active:
        raise LeadgateError(f"delivery {delivery_id} is for a deactivated subscription")
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.created_at = now
    delivery.last_error = None
    return delivery
