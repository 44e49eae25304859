"""Pydantic shapes of a lead for input (Create/Update) and output (Read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadgate.common.text import blank_to_none, normalize_domain, normalize_email
from leadgate.lifecycle import Stage
from leadgate.tasks.schemas import TaskOut

__all__ = [
    "AccountSummary",
    "AdjustmentOut",
    "AdjustmentResult",
    "LeadCreate",
    "LeadDetail",
    "LeadList",
    "LeadListItem",
    "LeadRead",
    "LeadUpdate",
    "LeadUpserted",
    "Timeline",
]

_TEXT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "country",
    "source",
    "channel",
    "campaign",
    "account_id",
)


class _LeadFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=300)
    seniority: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=200)
    campaign: str | None = Field(default=None, max_length=300)
    do_not_email: bool | None = None
    do_not_call: bool | None = None
    account_id: str | None = Field(default=None, max_length=64)
    account_domain: str | None = Field(default=None, max_length=255)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator(*_TEXT_FIELDS[1:], "account_domain", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("do_not_email", "do_not_call", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        value = blank_to_none(value)
        if isinstance(value, str):
            lowered = value.lower()
            if lowered in ("1", "true", "yes", "y", "t"):
                return True
            if lowered in ("0", "false", "no", "n", "f"):
                return False
        return value

    @field_validator("account_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else normalize_domain(value)


class LeadCreate(_LeadFields):
    """A lead to create or update; ``email`` (case-insensitive) identifies the person."""

    id: str | None = Field(default=None, max_length=64)
    email: str
    stage: Stage | None = None
    #: History from another system: when the lead was created there (new leads only)
    created_at: datetime | None = None
    #: ... and when it entered ``stage`` (recorded as a stage change on an existing lead)
    stage_at: datetime | None = None

    @field_validator("created_at", "stage_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("needs a time zone (or an import with --assume-tz)")
        return value

    @field_validator("id", mode="before")
    @classmethod
    def _blank_id(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> Any:
        if blank_to_none(value) is None:
            raise ValueError("email is required")
        return normalize_email(str(value))[0]


class LeadUpdate(_LeadFields):
    """A partial change of a lead's attributes (the email is changed by merging)."""


class LeadRead(BaseModel):
    """A lead as the API and ``--json`` output show it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    title: str | None
    seniority: str | None
    department: str | None
    country: str | None
    source: str | None
    channel: str | None
    campaign: str | None
    do_not_email: bool
    do_not_call: bool
    account_id: str | None
    attributes: dict[str, Any]
    stage: str
    stage_changed_at: datetime
    created_at: datetime
    updated_at: datetime


# -- what the lead endpoints answer -----------------------------------------------------------


class AccountSummary(BaseModel):
    """The lead's account as its pages show it."""

    id: str
    name: str | None
    domain: str | None
    industry: str | None
    employees: int | None
    country: str | None
    tier: str | None


class LeadDetail(BaseModel):
    """A lead scored as of ``as_of`` (decay applied on read), with its account, owner,
    open and done tasks, the moves allowed from its stage, and the full breakdown."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    title: str | None
    country: str | None
    source: str | None
    channel: str | None
    campaign: str | None
    attributes: dict[str, Any]
    stage: str
    stage_changed_at: str
    allowed_moves: list[str]
    account: AccountSummary | None
    owner: str | None
    tasks: list[TaskOut]
    model: str
    as_of: str
    scores: dict[str, float]
    grade: str | None
    mql: bool
    scorecard: dict[str, Any] | None


class LeadUpserted(LeadDetail):
    created: bool


class LeadListItem(BaseModel):
    """A listed lead with its scores and grade as last stored."""

    id: str
    email: str
    stage: str
    account_id: str | None
    scores: dict[str, float]
    grade: str | None
    scored_at: str | None


class LeadList(BaseModel):
    total: int
    leads: list[LeadListItem]


class Timeline(BaseModel):
    """A lead's story, oldest first. Each item has ``kind`` (``event``,
    ``stage_change``, ``qualification``, ``task``, ``webhook`` or ``audit``),
    ``at`` and that kind's fields; ``more``: older items exist beyond ``limit``."""

    lead_id: str
    items: list[dict[str, Any]]
    more: bool


class AdjustmentOut(BaseModel):
    """A manual score adjustment: ``points`` added to ``group`` from ``at`` on, until
    ``revoked_at`` (null while it counts)."""

    id: int
    lead_id: str
    group: str
    points: float
    reason: str
    actor: str
    at: str
    revoked_at: str | None
    revoked_by: str | None


class AdjustmentResult(BaseModel):
    """An adjustment made or revoked and the lead scored right after it (its stage:
    ``moved_to_mql`` when the adjustment made it an MQL)."""

    adjustment: AdjustmentOut
    lead_id: str
    stage: str
    moved_to_mql: bool
    scores: dict[str, float]
    grade: str | None
    mql: bool
