"""The lead search's read model: leads by name, email or account name, across every
stage, limited to what the viewer may see.

The text is matched case-insensitively as a substring, always as a bound parameter
with the LIKE wildcards of the text escaped (``50%_off`` finds exactly that). Each
row carries what the page shows: the lead, its account and tier, and the scores and
grade of its stored scorecard.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, true
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.leads.models import Lead
from leadgate.leads.service import visible_to
from leadgate.lifecycle import Stage
from leadgate.scorecards.models import StoredScorecard

__all__ = ["SearchPage", "SearchRow", "contains_pattern", "search_leads"]

#: How LIKE wildcards in the searched text are escaped.
ESCAPE = "\\"


@dataclass(frozen=True)
class SearchRow:
    """A found lead with its account and its stored scores (empty until scored)."""

    lead: Lead
    account_id: str | None
    account_name: str | None
    tier: str | None
    scores: dict[str, float]
    grade: str | None


@dataclass(frozen=True)
class SearchPage:
    """One page of results and how many leads match in all."""

    total: int
    rows: list[SearchRow]


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its ``%``, ``_`` and ``\\`` literal."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def _matches(text: str) -> ColumnElement[bool]:
    pattern = contains_pattern(text.strip().lower())
    full_name = (
        func.coalesce(Lead.first_name, "") + literal(" ") + func.coalesce(Lead.last_name, "")
    )
    return or_(
        Lead.email_key.like(pattern, escape=ESCAPE),
        func.lower(full_name).like(pattern, escape=ESCAPE),
        func.lower(Account.name).like(pattern, escape=ESCAPE),
    )


def search_leads(
    session: Session,
    *,
    text: str | None,
    team: frozenset[str] | None,
    stage: Stage | None = None,
    limit: int = 50,
    offset: int = 0,
) -> SearchPage:
    """Leads whose name, email or account name contains ``text`` (every lead the
    viewer sees when it is empty), in ``stage`` when given, most recent stage change
    first. ``team`` is the viewer's (None: they see every lead)."""
    conditions: list[ColumnElement[bool]] = []
    if team is not None:
        conditions.append(visible_to(team))
    if text and text.strip():
        conditions.append(_matches(text))
    if stage is not None:
        conditions.append(Lead.stage == stage.value)
    where = and_(true(), *conditions)
    counted = select(Lead.id).outerjoin(Account, Account.id == Lead.account_id).where(where)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    query = (
        select(Lead, Account.id, Account.name, Account.tier, StoredScorecard)
        .outerjoin(Account, Account.id == Lead.account_id)
        .outerjoin(StoredScorecard, StoredScorecard.lead_id == Lead.id)
        .where(where)
        .order_by(Lead.stage_changed_at.desc(), Lead.id)
        .limit(limit)
        .offset(offset)
    )
    rows = [
        SearchRow(
            lead=lead,
            account_id=account_id,
            account_name=account_name,
            tier=tier,
            scores=dict(card.scores) if card is not None else {},
            grade=card.grade if card is not None else None,
        )
        for lead, account_id, account_name, tier, card in session.execute(query)
    ]
    return SearchPage(total=total, rows=rows)
