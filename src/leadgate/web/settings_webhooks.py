"""Settings, webhooks: subscriptions (created with their signing secret shown once,
deactivated), and the recent deliveries with their status, attempts and last
error, each of which can be replayed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.api.deps import state
from leadgate.audit import record
from leadgate.common.ids import utcnow
from leadgate.web.auth import SignedIn
from leadgate.web.pages import act
from leadgate.web.settings_common import Admin, act_and_show, invalid, page
from leadgate.webhooks.models import Delivery, Subscription
from leadgate.webhooks.service import (
    EVENT_TYPES,
    SubscriptionIn,
    create_subscription,
    deactivate_subscription,
    list_deliveries,
    replay_delivery,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BACK = "/settings/webhooks"
Csrf = Annotated[str | None, Form(max_length=200)]
DELIVERIES_SHOWN = 50
STATUSES = ("pending", "delivered", "dead")


@router.get("/settings/webhooks")
def webhooks_page(
    request: Request,
    user: Admin,
    status: str | None = Query(None, max_length=20),
    error: str | None = Query(None, max_length=2000),
) -> Response:
    """Subscriptions (never their secrets) and the latest deliveries."""
    status = status if status in STATUSES else None
    with state(request).reads.snapshot() as session:
        subscriptions = list(
            session.scalars(select(Subscription).order_by(Subscription.created_at))
        )
        deliveries = list_deliveries(session, status=status, limit=DELIVERIES_SHOWN)
    by_id = {subscription.id: subscription for subscription in subscriptions}
    return page(
        "settings_webhooks.html",
        user,
        "webhooks",
        subscriptions=subscriptions,
        deliveries=[
            (delivery, message, by_id.get(delivery.subscription_id))
            for delivery, message in deliveries
        ],
        event_types=EVENT_TYPES,
        shown=status,
        statuses=STATUSES,
        error=error,
    )


@router.post("/settings/webhooks")
def create(
    request: Request,
    user: Admin,
    url: Annotated[str, Form(max_length=2000)],
    events: Annotated[list[str] | None, Form()] = None,
    csrf_token: Csrf = None,
) -> Response:
    """Subscribe a URL to event types; the signing secret is shown on this answer only."""

    def work(session: Session) -> tuple[Subscription, str]:
        try:
            data = SubscriptionIn(url=url.strip(), events=events or [])
        except ValidationError as exc:
            raise invalid(exc) from None
        now = utcnow()
        subscription, secret = create_subscription(session, data=data, now=now)
        detail = {"id": subscription.id, "url": subscription.url, "events": subscription.events}
        record(session, actor=user.viewer.actor, action="webhook.created", at=now, detail=detail)
        return subscription, secret

    def show(made: tuple[Subscription, str]) -> Response:
        subscription, secret = made
        return _secret_page(user, subscription, secret)

    return act_and_show(request, user, csrf_token, BACK, work, show)


def _secret_page(user: SignedIn, subscription: Subscription, secret: str) -> Response:
    return page(
        "settings_secret.html",
        user,
        "webhooks",
        title="Webhook subscription created",
        what=f"{subscription.url} ({', '.join(subscription.events)})",
        label="Signing secret",
        secret=secret,
        usage="Receivers verify each message's webhook-signature with it (Standard Webhooks).",
        back=BACK,
    )


@router.post("/settings/webhooks/{subscription_id}/deactivate")
def deactivate(
    request: Request, subscription_id: str, user: Admin, csrf_token: Csrf = None
) -> Response:
    """Stop sending to a subscription (its pending deliveries are dropped)."""

    def work(session: Session) -> Subscription:
        subscription = deactivate_subscription(session, subscription_id=subscription_id)
        detail = {"id": subscription.id, "url": subscription.url}
        record(
            session,
            actor=user.viewer.actor,
            action="webhook.deactivated",
            at=utcnow(),
            detail=detail,
        )
        return subscription

    return act(request, user, csrf_token, BACK, work)


@router.post("/settings/webhooks/deliveries/{delivery_id}/replay")
def replay(request: Request, delivery_id: int, user: Admin, csrf_token: Csrf = None) -> Response:
    """Send a delivery again now (a new attempt, retried for another 24 hours)."""

    def work(session: Session) -> Delivery:
        now = utcnow()
        delivery = replay_delivery(session, delivery_id=delivery_id, now=now)
        detail = {"delivery_id": delivery.id, "message_id": delivery.message_id}
        record(session, actor=user.viewer.actor, action="webhook.replayed", at=now, detail=detail)
        return delivery

    return act(request, user, csrf_token, BACK, work)
