"""What the webhook endpoints answer."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = [
    "DeliveryList",
    "DeliveryOut",
    "SubscriptionCreated",
    "SubscriptionList",
    "SubscriptionOut",
]


class SubscriptionOut(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool


class SubscriptionCreated(BaseModel):
    """A new subscription; ``secret`` signs its messages and is shown this once."""

    id: str
    url: str
    events: list[str]
    secret: str


class SubscriptionList(BaseModel):
    webhooks: list[SubscriptionOut]


class DeliveryOut(BaseModel):
    """One message to one subscriber: its status, attempts and last error."""

    id: int
    message_id: str
    subscription_id: str
    event_type: str | None
    lead_id: str | None
    status: str
    attempts: int
    next_attempt_at: str
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    created_at: str


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
