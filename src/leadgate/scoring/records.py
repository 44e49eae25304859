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
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise ValueError(f"event {self.id!r}: timestamp {self.ts.isoformat()} has no time zone")


#: A stored lead's own columns the evaluator reads, in the record's order: the one list
#: the record builders (ORM and driver SQL) and the model language's lead fields use.
LEAD_COLUMNS: tuple[str, ...] = tuple(
    name for name in LeadRecord.__dataclass_fields__ if name != "predicted"
)
#: A stored account's columns the evaluator reads, in the record's order.
ACCOUNT_COLUMNS: tuple[str, ...] = tuple(AccountRecord.__dataclass_fields__)
