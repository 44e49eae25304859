"""Pydantic shapes of an event, and the one set of rules for reading event fields."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadgate.common.text import blank_to_none, parse_timestamp

__all__ = ["EventCreate", "EventRead", "check_event_type", "derived_event_id"]

_TYPE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


def check_event_type(value: str) -> str:
    """Event types are short dotted names such as ``email.opened``."""
    value = value.strip()
    if not _TYPE_RE.match(value):
        raise ValueError(
            f"event type {value[:60]!r} must be 1-200 letters, digits or _ . : - "
            "(e.g. email.opened)"
        )
    return value


def derived_event_id(
    lead_ref: str, type_: str, occurred_at: datetime, properties: dict[str, Any]
) -> str:
    """A stable id for events delivered without one, so re-importing them adds nothing."""
    payload = json.dumps(
        [lead_ref.lower(), type_, occurred_at.isoformat(), properties],
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return "h_" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class EventCreate(BaseModel):
    """An event to record; refers to its lead by ``lead_id`` or ``email``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str | None = Field(default=None, max_length=255)
    lead_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    type: str
    occurred_at: datetime
    channel: str | None = Field(default=None, max_length=200)
    campaign: str | None = Field(default=None, max_length=300)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_id", "lead_id", "email", "channel", "campaign", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return check_event_type(value)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime:
        return parse_timestamp(value)

    @model_validator(mode="after")
    def _lead_reference(self) -> EventCreate:
        if self.lead_id is None and self.email is None:
            raise ValueError("an event needs lead_id or email")
        return self

    def resolved_event_id(self) -> str:
        if self.event_id is not None:
            return self.event_id
        ref = self.lead_id or self.email or ""
        return derived_event_id(ref, self.type, self.occurred_at, self.properties)


class EventRead(BaseModel):
    """An event as stored."""

    model_config = ConfigDict(from_attributes=True)

    event_id: str
    lead_id: str
    type: str
    occurred_at: datetime
    channel: str | None
    campaign: str | None
    properties: dict[str, Any]
    received_at: datetime
