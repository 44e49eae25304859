"""The sales queue's read model: the MQLs waiting for sales, as one query.

Each row carries what a rep decides on: the lead, its account and tier, owner,
the open task's SLA due time, the stored scores, grade, predicted probability
and top reasons (read from the stored scorecard: the page shows exactly what the
qualification service stored). Visibility follows the viewer's team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.leads.models import Lead
from leadgate.leads.service import visible_to
from leadgate.lifecycle import Stage
from leadgate.scorecards.models import Prediction, StoredScorecard
from leadgate.tasks.models import Task

__all__ = [
    "SORTS",
    "QueueFilters",
    "QueuePage",
    "QueueRow",
    "filter_choices",
    "queue_page",
    "top_reasons",
]

#: sort key -> what it means (the page offers them in this order)
SORTS = {
    "newest": "newest MQL first",
    "due": "SLA due soonest first",
    "predicted": "highest predicted probability first",
    "score": "highest score first",
}


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page filters on; ``owner="unassigned"`` is the unassigned queue."""

    owner: str | None = None
    channel: str | None = None
    campaign: str | None = None
    grade: str | None = None
    tier: str | None = None
    stage: Stage = Stage.MQL
    sort: str = "newest"


@dataclass(frozen=True)
class QueueRow:
    lead: Lead
    account_name: str | None
    tier: str | None
    due_at: datetime | None
    scores: dict[str, float]
    grade: str | None
    predicted: float | None
    reasons: list[str]


@dataclass(frozen=True)
class QueuePage:
    total: int
    rows: list[QueueRow]


def top_reasons(breakdown: dict[str, Any] | None, limit: int = 3) -> list[str]:
    """The rules that moved the stored score most, as short sentences."""
    rules = [
        rule
        for rule in (breakdown or {}).get("rules", [])
        if rule.get("matched") and rule.get("contribution")
    ]
    rules.sort(key=lambda rule: (-abs(float(rule["contribution"])), str(rule.get("rule_id"))))
    reasons = []
    for rule in rules[:limit]:
        label = rule.get("description") or str(rule.get("rule_id", "")).replace("_", " ")
        count = rule.get("matched_count") or 0
        times = f" x{count}" if count > 1 else ""
        reasons.append(f"{label}{times} ({float(rule['contribution']):+.0f})")
    return reasons


def queue_page(
    session: Session,
    *,
    filters: QueueFilters,
    team: frozenset[str] | None,
    score_group: str | None,
    limit: int = 50,
    offset: int = 0,
) -> QueuePage:
    """One page of the queue for a viewer whose ``team`` it is (None: everyone's).

    Two steps, so a page costs its 50 rows and not the whole queue: the page's lead
    ids (joining a table only when a filter or the sort needs it: the default walks
    the ``(stage, stage_changed_at)`` index), then those leads' details.
    """
    conditions: list[ColumnElement[bool]] = [Lead.stage == filters.stage.value]
    if team is not None:
        conditions.append(visible_to(team))
    if filters.owner == "unassigned":
        conditions.append(or_(Lead.owner.is_(None), Lead.owner.like("queue:%")))
    elif filters.owner:
        conditions.append(Lead.owner == filters.owner.lower())
    if filters.channel:
        conditions.append(Lead.channel == filters.channel)
    if filters.campaign:
        conditions.append(Lead.campaign == filters.campaign)
    sort_by_score = filters.sort == "score" and score_group is not None
    ids = select(Lead.id)
    if filters.grade or sort_by_score:
        ids = ids.outerjoin(StoredScorecard, StoredScorecard.lead_id == Lead.id)
        if filters.grade:
            conditions.append(StoredScorecard.grade == filters.grade)
    if filters.tier:
        ids = ids.join(Account, Account.id == Lead.account_id)
        conditions.append(Account.tier == filters.tier)
    if filters.sort == "predicted":
        ids = ids.outerjoin(Prediction, Prediction.lead_id == Lead.id)
    ids = ids.where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    if filters.sort == "due":
        due = (
            select(func.min(Task.due_at))
            .where(Task.lead_id == Lead.id, Task.status == "open")
            .scalar_subquery()
        )
        ids = ids.order_by(due.is_(None), due, Lead.id)
    elif filters.sort == "predicted":
        ids = ids.order_by(Prediction.probability.is_(None), Prediction.probability.desc(), Lead.id)
    elif sort_by_score and score_group is not None:
        score = StoredScorecard.scores[score_group].as_float()
        ids = ids.order_by(score.is_(None), score.desc(), Lead.id)
    else:
        ids = ids.order_by(Lead.stage_changed_at.desc(), Lead.id)
    page_ids = list(session.scalars(ids.limit(limit).offset(offset)))
    return QueuePage(total=total, rows=_details(session, page_ids))


def _details(session: Session, lead_ids: list[str]) -> list[QueueRow]:
    """The rows of these leads, in this order."""
    if not lead_ids:
        return []
    due: dict[str, datetime] = {
        row.lead_id: row.due_at
        for row in session.execute(
            select(Task.lead_id, func.min(Task.due_at).label("due_at"))
            .where(Task.lead_id.in_(lead_ids), Task.status == "open")
            .group_by(Task.lead_id)
        )
    }
    query = (
        select(Lead, Account.name, Account.tier, StoredScorecard, Prediction.probability)
        .outerjoin(StoredScorecard, StoredScorecard.lead_id == Lead.id)
        .outerjoin(Account, Account.id == Lead.account_id)
        .outerjoin(Prediction, Prediction.lead_id == Lead.id)
        .where(Lead.id.in_(lead_ids))
    )
    found = {}
    for lead, account_name, tier, card, probability in session.execute(query):
        found[lead.id] = QueueRow(
            lead=lead,
            account_name=account_name,
            tier=tier,
            due_at=_aware(due.get(lead.id)),
            scores=dict(card.scores) if card is not None else {},
            grade=card.grade if card is not None else None,
            predicted=probability,
            reasons=top_reasons(card.breakdown if card is not None else None),
        )
    return [found[lead_id] for lead_id in lead_ids if lead_id in found]


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates skip the column type: SQLite hands back naive UTC datetimes."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def filter_choices(session: Session) -> dict[str, Sequence[str]]:
    """The values the queue's filters offer: the channels and campaigns of waiting
    MQLs, the account tiers (grades come from the model)."""
    mql = Lead.stage == Stage.MQL.value
    return {
        "channel": sorted(
            v for v in session.scalars(select(Lead.channel).where(mql).distinct()) if v
        ),
        "campaign": sorted(
            v for v in session.scalars(select(Lead.campaign).where(mql).distinct()) if v
        ),
        "tier": sorted(v for v in session.scalars(select(Account.tier).distinct()) if v),
    }
