"""Thin router for webhook subscriptions and deliveries."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from leadgate.api.deps import AdminKey, snapshot, transaction
from leadgate.common.ids import utcnow
from leadgate.webhooks.models import OutboxMessage, Subscription
from leadgate.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionList,
)
from leadgate.webhooks.service import (
    SubscriptionIn,
    create_subscription,
    delivery_dict,
    list_deliveries,
    replay_delivery,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Subscribe; the signing secret is returned this once",
)
def post_subscription(data: SubscriptionIn, request: Request, caller: AdminKey) -> dict[str, Any]:
    with transaction(request) as db:
        subscription, secret = create_subscription(db, data=data, now=utcnow())
        return {
            "id": subscription.id,
            "url": subscription.url,
            "events": subscription.events,
            "secret": secret,
        }


@router.get("", response_model=SubscriptionList, summary="Subscriptions (without secrets)")
def get_subscriptions(request: Request, caller: AdminKey) -> dict[str, Any]:
    with snapshot(request) as db:
        rows = db.scalars(select(Subscription).order_by(Subscription.created_at))
        return {
            "webhooks": [
                {"id": s.id, "url": s.url, "events": s.events, "active": s.active} for s in rows
            ]
        }


@router.get("/deliveries", response_model=DeliveryList, summary="Deliveries, newest first")
def get_deliveries(
    request: Request,
    caller: AdminKey,
    status: Literal["pending", "delivered", "dead"] | None = None,
    lead_id: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    with snapshot(request) as db:
        rows = list_deliveries(db, status=status, lead_id=lead_id, limit=limit)
        return {"deliveries": [delivery_dict(d, m) for d, m in rows]}


@router.post(
    "/deliveries/{delivery_id}/replay", response_model=DeliveryOut, summary="Send a delivery again"
)
def post_replay(delivery_id: int, request: Request, caller: AdminKey) -> dict[str, Any]:
    with transaction(request) as db:
        delivery = replay_delivery(db, delivery_id=delivery_id, now=utcnow())
        return delivery_dict(delivery, db.get(OutboxMessage, delivery.message_id))
