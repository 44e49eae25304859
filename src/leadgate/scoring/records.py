"""Plain, immutable inputs of the evaluator: what a lead, account and event look like to scoring.

They carry no database identity or session; storage code converts its rows into these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ACCOUNT_COLUMNS",
    "LEAD_COLUMNS",
    "AccountRecord",
    "Adjustment",
    "EventRecord",
    "LeadRecord",
    "email_domain",
]

_EMPTY: Mapping[str, Any] = {}


def email_domain(email: str | None) -> str | None:
    """The lower-cased part after the last ``@``, or None."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower()
    return domain or None


def _require_aware(what: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: timestamp {moment.isoformat()} has no time zone")


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A person's change to one group's score ("+20 engagement: met at the trade fair").

    It counts from ``at`` (inclusive) until ``revoked_at`` (exclusive), is added to its
    group's score after the group's caps, and never decays.
    """

    id: str
    group: str
    points: float
    at: datetime
    revoked_at: datetime | None = None
    reason: str | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        _require_aware(f"adjustment {self.id!r}", self.at)
        if self.revoked_at is not None:
            _require_aware(f"adjustment {self.id!r}", self.revoked_at)

    def counts_at(self, as_of: datetime) -> bool:
        """Whether it is part of the score as of ``as_of``."""
        return self.at <= as_of and (self.revoked_at is None or as_of < self.revoked_at)


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """A person as scoring sees them."""

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    seniority: str | None = None
    department: str | None = None
    country: str | None = None
    source: str | None = None
    channel: str | None = None
    campaign: str | None = None
    do_not_email: bool = False
    do_not_call: bool = False
    account_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    predicted: float | None = None
    """Probability of converting from the latest predictive model, when one was trained."""
    adjustments: tuple[Adjustment, ...] = ()
    """Score adjustments made by people (each counts from its ``at``; see :class:`Adjustment`)."""

    @property
    def email_domain(self) -> str | None:
        return email_domain(self.email)


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """A company as scoring sees it."""

    id: str
    domain: str | None = None
    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    annual_revenue: float | None = None
    country: str | None = None
    tier: str | None = None
    owner: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One engagement event. ``ts`` must carry a time zone."""

    id: str
    type: str
    ts: datetime
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    channel: str | None = None
    campaign: str | None = None

    def __post_init__(self) -> None:
        _require_aware(f"event {self.id!r}", self.ts)


#: A stored lead's own columns the evaluator reads, in the record's order: the one list
#: the record builders (ORM and driver SQL) and the model language's lead fields use.
LEAD_COLUMNS: tuple[str, ...] = tuple(
    name for name in LeadRecord.__dataclass_fields__ if name not in ("predicted", "adjustments")
)
#: A stored account's columns the evaluator reads, in the record's order.
ACCOUNT_COLUMNS: tuple[str, ...] = tuple(AccountRecord.__dataclass_fields__)
