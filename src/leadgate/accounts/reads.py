"""Read models of an account for the web app: its facts, its leads, its engagement
roll-up and its engagement events per week.

The roll-up is what scoring stored: the model's roll-up groups
(:class:`leadgate.scoring.nodes.RollupGroup`) are account-level scores written on
each of the account's leads' scorecards; the page shows those of the scorecard
stored last. Which leads are listed follows the viewer's team; the account's own
numbers (roll-up, events per week) count every lead of the account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.service import get_account
from leadgate.events.models import Event
from leadgate.leads.models import Lead
from leadgate.leads.service import visible_to
from leadgate.scorecards.models import StoredScorecard

__all__ = [
    "AccountLead",
    "AccountView",
    "Rollup",
    "WeekCount",
    "account_rollup",
    "account_view",
    "week_start",
    "weekly_engagement",
]

#: Leads listed on an account's page at most (the rest are counted).
LEADS_SHOWN = 200


@dataclass(frozen=True)
class AccountLead:
    """A lead of the account with its stored scores (empty until scored)."""

    lead: Lead
    scores: dict[str, float]
    grade: str | None


@dataclass(frozen=True)
class Rollup:
    """The account's roll-up scores from the scorecard stored last (empty when the
    model has no roll-up group or no lead of the account is scored yet)."""

    scores: dict[str, float]
    model: str | None
    as_of: datetime | None


@dataclass(frozen=True)
class WeekCount:
    """Engagement events of the account's leads in the week starting ``start`` (UTC Monday)."""

    start: date
    events: int


@dataclass(frozen=True)
class AccountView:
    """What the account page shows; ``hidden`` counts the leads outside the viewer's view."""

    account: Account
    leads: list[AccountLead]
    total_leads: int
    hidden: int
    rollup: Rollup
    weeks: list[WeekCount]


def account_rollup(session: Session, *, account_id: str, groups: Sequence[str]) -> Rollup:
    """The roll-up ``groups`` as stored on the newest scorecard of the account's leads."""
    if not groups:
        return Rollup(scores={}, model=None, as_of=None)
    card = session.scalar(
        select(StoredScorecard)
        .join(Lead, Lead.id == StoredScorecard.lead_id)
        .where(Lead.account_id == account_id)
        .order_by(StoredScorecard.as_of.desc(), StoredScorecard.computed_at.desc())
        .limit(1)
    )
    if card is None:
        return Rollup(scores={}, model=None, as_of=None)
    scores = {name: float(card.scores[name]) for name in groups if name in card.scores}
    return Rollup(scores=scores, model=f"{card.model_name}@v{card.model_version}", as_of=card.as_of)


def week_start(moment: datetime) -> date:
    """The Monday (UTC) of the week ``moment`` falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def weekly_engagement(
    session: Session, *, account_id: str, now: datetime, weeks: int = 12
) -> list[WeekCount]:
    """Events of the account's leads per week, the last ``weeks`` weeks up to ``now``
    (oldest first, the current week last, weeks without events as 0)."""
    first = week_start(now) - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, time(), tzinfo=UTC)
    counts = dict.fromkeys((first + timedelta(weeks=i) for i in range(weeks)), 0)
    stamps = session.scalars(
        select(Event.occurred_at)
        .join(Lead, Lead.id == Event.lead_id)
        .where(Lead.account_id == account_id, Event.occurred_at >= since, Event.occurred_at <= now)
    )
    for stamp in stamps:
        start = week_start(stamp)
        if start in counts:
            counts[start] += 1
    return [WeekCount(start=start, events=events) for start, events in counts.items()]


def account_view(
    session: Session,
    *,
    ref: str,
    team: frozenset[str] | None,
    rollup_groups: Sequence[str],
    now: datetime,
) -> AccountView:
    """The account ``ref`` (id or domain) for a viewer whose ``team`` it is."""
    account = get_account(session, ref=ref)
    of_account = Lead.account_id == account.id
    shown = of_account if team is None else and_(of_account, visible_to(team))
    total = session.scalar(select(func.count()).select_from(Lead).where(of_account)) or 0
    seen = session.scalar(select(func.count()).select_from(Lead).where(shown)) or 0
    rows = session.execute(
        select(Lead, StoredScorecard)
        .outerjoin(StoredScorecard, StoredScorecard.lead_id == Lead.id)
        .where(shown)
        .order_by(Lead.stage_changed_at.desc(), Lead.id)
        .limit(LEADS_SHOWN)
    )
    leads = [
        AccountLead(
            lead=lead,
            scores=dict(card.scores) if card is not None else {},
            grade=card.grade if card is not None else None,
        )
        for lead, card in rows
    ]
    return AccountView(
        account=account,
        leads=leads,
        total_leads=total,
        hidden=total - seen,
        rollup=account_rollup(session, account_id=account.id, groups=rollup_groups),
        weeks=weekly_engagement(session, account_id=account.id, now=now),
    )
