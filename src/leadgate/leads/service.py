"""Lead operations: upsert with identity by email, merging, lookups and stage changes.

Keyword-only functions, session first. They flush but never commit: the caller's
transaction decides, so a stage change and its history row land together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.service import account_for_domain
from leadgate.audit.models import AuditEntry
from leadgate.common.changes import note_change
from leadgate.common.ids import new_id
from leadgate.events.models import Event
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead, LeadAlias, Qualification, StageChange
from leadgate.leads.schemas import LeadCreate, LeadUpdate
from leadgate.leads.touches import merge_lead_touches
from leadgate.lifecycle import LISTED_REASON, NEEDS_REASON, STAGE_DEPTH, Stage, check_transition
from leadgate.scorecards.models import Prediction, ScoreAdjustment, StoredScorecard
from leadgate.scoring.records import email_domain
from leadgate.tasks.models import Task

__all__ = [
    "LeadPage",
    "LeadRow",
    "change_stage",
    "check_move",
    "find_lead",
    "get_lead",
    "list_leads",
    "merge_leads",
    "stage_history",
    "upsert_lead",
    "visible_to",
]

_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "country",
    "source",
    "channel",
    "campaign",
)


def find_lead(session: Session, *, ref: str) -> Lead | None:
    """A lead by id, email (any case) or the id/email of a lead merged into it."""
    ref = ref.strip()
    lead = session.get(Lead, ref)
    if lead is not None:
        return lead
    key = ref.lower()
    lead = session.scalar(select(Lead).where(Lead.email_key == key))
    if lead is not None:
        return lead
    alias = session.get(LeadAlias, ref) or session.get(LeadAlias, key)
    return None if alias is None else session.get(Lead, alias.lead_id)


def get_lead(session: Session, *, ref: str) -> Lead:
    """Like :func:`find_lead` but raises NotFoundError."""
    lead = find_lead(session, ref=ref)
    if lead is None:
        raise NotFoundError(f"no lead with id or email {ref!r}")
    return lead


@dataclass(frozen=True)
class LeadRow:
    """A listed lead with its stored scorecard (None until scored) and account name."""

    lead: Lead
    scorecard: StoredScorecard | None
    account_name: str | None


@dataclass(frozen=True)
class LeadPage:
    """One page of a lead listing and how many leads match in all."""

    total: int
    rows: list[LeadRow]


def list_leads(
    session: Session,
    *,
    stage: Stage | None = None,
    owner: str | None = None,
    grade: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    group: str | None = None,
    groups: Sequence[str] = (),
    account: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
    team: frozenset[str] | None = None,
) -> LeadPage:
    """Leads matching the filters, most recent stage change first, with their stored
    scorecards (for the CLI and the REST API alike).

    A score range applies to ``group`` (default: the first of the model's
    ``groups``); a group the model does not have is an error naming the choices.
    ``account`` is an account id or domain. With ``team``, only the leads of those
    owners and the unassigned ones (a rep's or manager's view, see :func:`visible_to`).
    """
    query = (
        select(Lead, StoredScorecard, Account.name)
        .outerjoin(StoredScorecard, StoredScorecard.lead_id == Lead.id)
        .outerjoin(Account, Account.id == Lead.account_id)
    )
    conditions = []
    if stage is not None:
        conditions.append(Lead.stage == stage.value)
    if owner is not None:
        conditions.append(Lead.owner == owner.lower())
    if grade is not None:
        conditions.append(StoredScorecard.grade == grade)
    if account is not None:
        conditions.append(or_(Lead.account_id == account, Account.domain == account.lower()))
    if team is not None:
        conditions.append(visible_to(team))
    if min_score is not None or max_score is not None:
        name = group or (groups[0] if groups else None)
        if name is None or name not in groups:
            raise LeadgateError(f"group: choose one of {', '.join(groups)}")
        score = StoredScorecard.scores[name].as_float()  # SQLite and PostgreSQL alike
        if min_score is not None:
            conditions.append(score >= min_score)
        if max_score is not None:
            conditions.append(score <= max_score)
    if conditions:
        query = query.where(and_(*conditions))
    counted = select(Lead.id)
    if grade is not None or min_score is not None or max_score is not None:
        counted = counted.outerjoin(StoredScorecard, StoredScorecard.lead_id == Lead.id)
    if account is not None:
        counted = counted.outerjoin(Account, Account.id == Lead.account_id)
    # the count joins only what a filter needs: a stage's total comes from its index
    counted = counted.where(*conditions)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    query = query.order_by(Lead.stage_changed_at.desc(), Lead.id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = [LeadRow(lead, card, name) for lead, card, name in session.execute(query)]
    return LeadPage(total=total, rows=rows)


def visible_to(team: frozenset[str]) -> ColumnElement[bool]:
    """Leads owned by one of ``team`` or by nobody yet (no owner, or a ``queue:``)."""
    return or_(Lead.owner.is_(None), Lead.owner.like("queue:%"), Lead.owner.in_(sorted(team)))


def check_move(
    session: Session,
    *,
    ref: str,
    to: Stage,
    reason: str | None,
    reasons: Sequence[str],
) -> tuple[Lead, str | None]:
    """A move by a person, checked: the lead and the cleaned reason. Refused (409)
    when the transition table does not allow it; 422 without a reason where one is
    needed, or with one that is not configured where a listed one is."""
    lead = get_lead(session, ref=ref)
    source = Stage(lead.stage)
    check_transition(source, to)
    text = (reason or "").strip() or None
    if (source, to) in NEEDS_REASON and text is None:
        raise LeadgateError(f"moving a lead from {source.value} to {to.value} needs a reason")
    if (source, to) in LISTED_REASON and text not in reasons:
        raise LeadgateError(
            f"reason {text!r} is not one of the configured reasons: {', '.join(reasons)}"
        )
    return lead, text


def stage_history(session: Session, *, lead_id: str) -> Sequence[StageChange]:
    """Every stage change of a lead, oldest first."""
    return session.scalars(
        select(StageChange)
        .where(StageChange.lead_id == lead_id)
        .order_by(StageChange.at, StageChange.id)
    ).all()


def change_stage(
    session: Session,
    *,
    lead: Lead,
    to: Stage | str,
    actor: str,
    at: datetime,
    reason: str | None = None,
) -> StageChange:
    """Move a lead to ``to`` if the transition table allows it, recording who and why."""
    target = check_transition(lead.stage, to)
    change = StageChange(
        lead_id=lead.id,
        from_stage=lead.stage,
        to_stage=target.value,
        at=at,
        actor=actor,
        reason=reason,
    )
    lead.stage = target.value
    lead.stage_changed_at = at
    lead.updated_at = at
    session.add(change)
    session.flush()
    note_change(session, kind="lead.stage_changed", lead_id=lead.id)
    return change


def _add_alias(session: Session, *, alias: str, lead_id: str, now: datetime) -> None:
    existing = session.get(LeadAlias, alias)
    if existing is None:
        session.add(LeadAlias(alias=alias, lead_id=lead_id, created_at=now))
    else:
        existing.lead_id = lead_id


def _apply(session: Session, lead: Lead, data: LeadCreate | LeadUpdate, now: datetime) -> None:
    for name in _FIELDS:
        value = getattr(data, name)
        if value is not None:
            setattr(lead, name, value)
    if data.do_not_email is not None:
        lead.do_not_email = data.do_not_email
    if data.do_not_call is not None:
        lead.do_not_call = data.do_not_call
    if data.attributes:
        lead.attributes = {**(lead.attributes or {}), **data.attributes}
    if data.account_id is not None:
        if session.get(Account, data.account_id) is None:
            raise NotFoundError(f"unknown account {data.account_id!r}")
        lead.account_id = data.account_id
    elif data.account_domain is not None:
        account = account_for_domain(session, domain=data.account_domain, now=now)
        if account is None:
            raise LeadgateError(
                f"{data.account_domain} is a free-mail domain and cannot be an account"
            )
        lead.account_id = account.id
    elif lead.account_id is None:
        account = account_for_domain(session, domain=email_domain(lead.email), now=now)
        lead.account_id = None if account is None else account.id
    lead.updated_at = now


def upsert_lead(
    session: Session, *, data: LeadCreate, now: datetime, actor: str = "system"
) -> tuple[Lead, bool]:
    """Create or update the lead this email (any case) or id names; returns (lead, created).

    When the id and the email name two different stored leads, they are one
    person: the two are merged (events and history kept) before updating.
    """
    key = data.email.lower()
    by_email = session.scalar(select(Lead).where(Lead.email_key == key))
    if by_email is None:
        alias = session.get(LeadAlias, key)
        by_email = None if alias is None else session.get(Lead, alias.lead_id)
    by_id = find_lead(session, ref=data.id) if data.id is not None else None
    if by_email is not None and by_id is not None and by_email.id != by_id.id:
        keep, drop = sorted((by_email, by_id), key=lambda lead: (lead.created_at, lead.id))
        lead = merge_leads(session, keep=keep, drop=drop, actor=actor, now=now)
    else:
        lead = by_email or by_id  # type: ignore[assignment]
    if lead is None:
        initial = data.stage or Stage.LEAD
        later = None  # imported history: created at one time, in its stage since another
        if (
            data.created_at is not None
            and data.stage_at is not None
            and data.stage_at > data.created_at
        ):
            initial, later = Stage.LEAD, data.stage
        now = data.created_at or data.stage_at or now
        lead = Lead(
            id=data.id or new_id("ld"),
            email=data.email,
            email_key=key,
            stage=initial.value,
            stage_changed_at=now,
            do_not_email=False,
            do_not_call=False,
            attributes={},
            created_at=now,
            updated_at=now,
        )
        session.add(lead)
        session.flush()
        session.add(
            StageChange(
                lead_id=lead.id,
                from_stage=None,
                to_stage=initial.value,
                at=now,
                actor=actor,
                reason="created",
            )
        )
        _apply(session, lead, data, now)
        if later is not None and data.stage_at is not None:
            _record_past_stage(session, lead=lead, stage=later, at=data.stage_at, actor=actor)
        session.flush()
        return lead, True
    if data.stage is not None and data.stage_at is not None:
        _record_past_stage(session, lead=lead, stage=data.stage, at=data.stage_at, actor=actor)
    if data.id is not None and data.id != lead.id:
        _add_alias(session, alias=data.id, lead_id=lead.id, now=now)
    if lead.email_key != key:
        _add_alias(session, alias=lead.email_key, lead_id=lead.id, now=now)
        lead.email, lead.email_key = data.email, key
    elif lead.email != data.email:
        lead.email = data.email
    _apply(session, lead, data, now)
    session.flush()
    return lead, False


def _record_past_stage(
    session: Session, *, lead: Lead, stage: Stage, at: datetime, actor: str
) -> None:
    """Record a stage move that happened in another system (a CRM export).

    It is history, not a decision taken here, so the transition table is not
    applied; the same move at the same instant is recorded once (re-importing is
    idempotent), and it becomes the current stage only when it is the latest move.
    """
    exists = session.scalar(
        select(StageChange.id).where(
            StageChange.lead_id == lead.id,
            StageChange.to_stage == stage.value,
            StageChange.at == at,
        )
    )
    if exists is not None:
        return
    previous = session.scalar(
        select(StageChange.to_stage)
        .where(StageChange.lead_id == lead.id, StageChange.at <= at)
        .order_by(StageChange.at.desc(), StageChange.id.desc())
        .limit(1)
    )
    session.add(
        StageChange(
            lead_id=lead.id,
            from_stage=previous,
            to_stage=stage.value,
            at=at,
            actor=actor,
            reason="imported history",
        )
    )
    if at >= lead.stage_changed_at:
        lead.stage = stage.value
        lead.stage_changed_at = at


def merge_leads(session: Session, *, keep: Lead, drop: Lead, actor: str, now: datetime) -> Lead:
    """Fold ``drop`` into ``keep``: events, stage history, score adjustments, tasks,
    qualifications, audit entries and aliases move over; nothing is lost.

    ``keep``'s values win; its gaps are filled from ``drop``. Consent flags
    combine (either opt-out is honoured). The deeper funnel stage survives, and
    the merge itself is written to the stage history.
    """
    if keep.id == drop.id:
        return keep
    session.flush()
    session.execute(update(Event).where(Event.lead_id == drop.id).values(lead_id=keep.id))
    moved = select(func.count()).where(Event.lead_id == keep.id).scalar_subquery()
    session.execute(update(Lead).where(Lead.id == keep.id).values(events_stored=moved))
    session.execute(
        update(StageChange).where(StageChange.lead_id == drop.id).values(lead_id=keep.id)
    )
    session.execute(update(LeadAlias).where(LeadAlias.lead_id == drop.id).values(lead_id=keep.id))
    # what people did about either lead moves too: score adjustments, open or done
    # tasks, the BANT of a qualification, audit entries (the FKs would cascade them)
    for table in (ScoreAdjustment, Task, Qualification, AuditEntry):
        session.execute(update(table).where(table.lead_id == drop.id).values(lead_id=keep.id))
    session.execute(delete(StoredScorecard).where(StoredScorecard.lead_id == drop.id))
    session.execute(delete(Prediction).where(Prediction.lead_id == drop.id))
    for name in (*_FIELDS, "account_id"):
        if getattr(keep, name) is None and getattr(drop, name) is not None:
            setattr(keep, name, getattr(drop, name))
    merge_lead_touches(keep, drop)  # the earliest and latest touch of either
    if (keep.owner is None or keep.owner.startswith("queue:")) and drop.owner is not None:
        keep.owner = drop.owner  # a rep already working the other one keeps it
    keep.attributes = {**(drop.attributes or {}), **(keep.attributes or {})}
    keep.do_not_email = keep.do_not_email or drop.do_not_email
    keep.do_not_call = keep.do_not_call or drop.do_not_call
    before = keep.stage
    if STAGE_DEPTH[Stage(drop.stage)] > STAGE_DEPTH[Stage(keep.stage)]:
        keep.stage = drop.stage
        keep.stage_changed_at = drop.stage_changed_at
    session.add(
        StageChange(
            lead_id=keep.id,
            from_stage=before,
            to_stage=keep.stage,
            at=now,
            actor=actor,
            reason=f"merged lead {drop.id} ({drop.email}) into {keep.id}",
        )
    )
    drop_id, drop_key = drop.id, drop.email_key
    session.delete(drop)
    session.flush()
    _add_alias(session, alias=drop_id, lead_id=keep.id, now=now)
    if drop_key != keep.email_key:
        _add_alias(session, alias=drop_key, lead_id=keep.id, now=now)
    keep.updated_at = now
    session.flush()
    return keep
