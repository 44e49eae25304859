"""The ABM queue: accounts whose contacts, together, show buying interest.

The one definition (settings ``LEADGATE_ABM_MIN_ENGAGED`` and
``LEADGATE_ABM_WINDOW_DAYS``; docs/ui.md, "Accounts and ABM"): an account is in the
queue when at least ``min_engaged`` of its leads are **engaged contacts**, a lead

* whose stored scorecard meets the model's MQL definition (its engagement is at the
  level the model calls qualified, whatever stage sales has it in), and
* that did something (at least one event) in the last ``window_days`` days, and
* that is not ``disqualified``.

Listed newest first: by the latest event of its engaged contacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.reads import account_rollup
from leadgate.events.models import Event
from leadgate.leads.models import Lead
from leadgate.lifecycle import Stage
from leadgate.scorecards.models import StoredScorecard

__all__ = ["AbmDefinition", "AbmPage", "AbmRow", "abm_queue", "account_tiers"]


@dataclass(frozen=True)
class AbmDefinition:
    """How many engaged contacts an account needs, and how recent their activity."""

    min_engaged: int = 2
    window_days: float = 30

    def describe(self) -> str:
        """The definition in one sentence, as the page states it."""
        days = f"{self.window_days:g}"
        return (
            f"Accounts with at least {self.min_engaged} contacts that meet the MQL "
            f"definition and were active in the last {days} days (disqualified leads "
            "do not count)."
        )


@dataclass(frozen=True)
class AbmRow:
    """An account in the queue: its engaged contacts, their latest activity, and the
    first roll-up group's stored score (None when the model has none)."""

    account: Account
    engaged: int
    last_active_at: datetime
    rollup: float | None


@dataclass(frozen=True)
class AbmPage:
    total: int
    rows: list[AbmRow]


def abm_queue(
    session: Session,
    *,
    definition: AbmDefinition,
    now: datetime,
    rollup_group: str | None,
    tier: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AbmPage:
    """One page of the accounts meeting ``definition`` as of ``now``, newest activity
    first, of ``tier`` when given."""
    since = now - timedelta(days=definition.window_days)
    contacts = (
        select(
            Lead.account_id.label("account_id"),
            Lead.id.label("lead_id"),
            func.max(Event.occurred_at).label("last_at"),
        )
        .join(StoredScorecard, StoredScorecard.lead_id == Lead.id)
        .join(Event, Event.lead_id == Lead.id)
        .where(
            StoredScorecard.mql.is_(True),
            Lead.account_id.is_not(None),
            Lead.stage != Stage.DISQUALIFIED.value,
            Event.occurred_at >= since,
            Event.occurred_at <= now,
        )
        .group_by(Lead.account_id, Lead.id)
        .subquery()
    )
    engaged = (
        select(
            contacts.c.account_id,
            func.count().label("engaged"),
            func.max(contacts.c.last_at).label("last_at"),
        )
        .group_by(contacts.c.account_id)
        .having(func.count() >= definition.min_engaged)
        .subquery()
    )
    query = select(Account, engaged.c.engaged, engaged.c.last_at).join(
        engaged, engaged.c.account_id == Account.id
    )
    if tier:
        query = query.where(Account.tier == tier)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = []
    page = query.order_by(engaged.c.last_at.desc(), Account.id).limit(limit).offset(offset)
    for account, count, last_at in session.execute(page):
        rollup = None
        if rollup_group is not None:
            found = account_rollup(session, account_id=account.id, groups=[rollup_group])
            rollup = found.scores.get(rollup_group)
        rows.append(
            AbmRow(
                account=account, engaged=int(count), last_active_at=_aware(last_at), rollup=rollup
            )
        )
    return AbmPage(total=total, rows=rows)


def _aware(value: datetime | str) -> datetime:
    """An aggregate over a subquery loses the column type: SQLite hands back naive
    UTC text or datetimes."""
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def account_tiers(session: Session) -> list[str]:
    """The tiers accounts have (the queue's filter offers them)."""
    return sorted(t for t in session.scalars(select(Account.tier).distinct()) if t)
