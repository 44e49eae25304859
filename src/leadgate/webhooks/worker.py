"""Send due webhook deliveries, signed per Standard Webhooks, with retries.

Runs in a background thread of ``leadgate serve`` (and can be driven directly in
tests or from a cron): :func:`deliver_due` takes the due pending deliveries,
posts each message to its subscription, and records the outcome: delivered on a
2xx, otherwise retried with exponential backoff until 24 hours after the
delivery was created, then ``dead``.
"""

from __future__ import annotations

import json
from datetime import datetime

import httpx
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from leadgate.db.engine import Database
from leadgate.webhooks.models import Delivery, OutboxMessage, Subscription
from leadgate.webhooks.service import RETRY_FOR, backoff

__all__ = ["deliver_due", "signed_headers"]


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    signature = Webhook(secret).sign(message_id, at, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def deliver_due(
    database: Database, *, now: datetime, client: httpx.Client, limit: int = 100
) -> int:
    """Attempt up to ``limit`` due deliveries; returns how many were attempted."""
    with database.session() as session:
        due = session.execute(
            select(
                Delivery.id,
                OutboxMessage.id,
                OutboxMessage.payload,
                Subscription.url,
                Subscription.secret,
            )
            .join(OutboxMessage, OutboxMessage.id == Delivery.message_id)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        ).all()
    for delivery_id, message_id, payload, url, secret in due:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(
                url,
                content=body.encode("utf-8"),
                headers=signed_headers(secret, message_id, now, body),
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        with database.session() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                continue
            delivery.attempts += 1
            delivery.last_status = status
            delivery.last_error = error
            if error is None:
                delivery.status = "delivered"
                delivery.delivered_at = now
            elif now + backoff(delivery.attempts) > delivery.created_at + RETRY_FOR:
                delivery.status = "dead"
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
    return len(due)
