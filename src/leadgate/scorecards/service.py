"""Scoring stored leads: evaluate, store scorecards, promote qualifying leads to MQL.

The evaluation itself is the pure evaluator; this module only loads records,
stores results, and writes the stage changes with their history rows in the
caller's transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.common.ids import utcnow
from leadgate.events.service import load_event_records
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.service import change_stage
from leadgate.lifecycle import AUTO_QUALIFY_FROM, Stage
from leadgate.scorecards.adjustments import counted_adjustments, load_adjustments
from leadgate.scorecards.inputs import lead_inputs, stored_inputs
from leadgate.scorecards.models import Prediction, StoredScorecard
from leadgate.scorecards.store import stored_scorecard, upsert_scorecards
from leadgate.scoring.evaluator import Member, evaluate_account
from leadgate.scoring.nodes import ScoringModel
from leadgate.scoring.records import (
    ACCOUNT_COLUMNS,
    LEAD_COLUMNS,
    AccountRecord,
    Adjustment,
    EventRecord,
    LeadRecord,
)
from leadgate.scoring.scorecard import Scorecard

__all__ = [
    "Qualified",
    "ScoreRun",
    "account_record",
    "counted_events",
    "counted_since",
    "evaluate_leads",
    "evaluate_to_store",
    "lead_record",
    "predictions_by_lead",
    "promote",
    "qualification_reason",
    "score_all",
    "score_leads",
    "scorecards_for",
    "stage_counts",
    "stored_scorecard",
    "upsert_scorecards",
]


@dataclass(frozen=True)
class Qualified:
    """A lead that this run moved to MQL."""

    lead_id: str
    email: str
    from_stage: str
    scorecard: Scorecard
    change: StageChange | None = None


@dataclass
class ScoreRun:
    """What a scoring run did."""

    model: str
    as_of: datetime
    leads: int = 0
    mql_verdicts: int = 0
    qualified: list[Qualified] = field(default_factory=list)
    grades: Counter[str] = field(default_factory=Counter)
    not_moved_stale: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "as_of": self.as_of.isoformat(),
            "leads": self.leads,
            "mql_verdicts": self.mql_verdicts,
            "moved_to_mql": len(self.qualified),
            "not_moved_as_of_before_stage_change": self.not_moved_stale,
            "grades": dict(sorted(self.grades.items())),
        }


def lead_record(
    lead: Lead, predicted: float | None = None, adjustments: tuple[Adjustment, ...] = ()
) -> LeadRecord:
    """The evaluator's view of a stored lead (with its predicted probability, if any,
    and the score adjustments given, all of them: see :func:`counted_adjustments`)."""
    values = {name: getattr(lead, name) for name in LEAD_COLUMNS}
    values["attributes"] = values["attributes"] or {}
    return LeadRecord(**values, predicted=predicted, adjustments=adjustments)


def predictions_by_lead(session: Session) -> dict[str, float]:
    """The latest predicted probability of every lead that has one."""
    rows = session.execute(select(Prediction.lead_id, Prediction.probability))
    return {row.lead_id: row.probability for row in rows}


def account_record(account: Account) -> AccountRecord:
    """The evaluator's view of a stored account."""
    values = {name: getattr(account, name) for name in ACCOUNT_COLUMNS}
    values["attributes"] = values["attributes"] or {}
    return AccountRecord(**values)


def qualification_reason(card: Scorecard) -> str:
    """The history-row reason: model version plus the deciding values."""
    return f"qualified by {card.model_label}: {card.verdict()}; top rules: {card.reasons()}"


def counted_events(lead: Lead, events: list[EventRecord]) -> list[EventRecord]:
    """The events that count for a lead's score.

    A recycled lead (stage ``nurture``) starts over: only what it did after
    sales sent it back counts, so it qualifies again on renewed interest rather
    than on the engagement sales already judged. Once it qualifies again its
    whole history counts again (the scorecard stored with the move says so).
    The same rule applies to its score adjustments
    (:func:`leadgate.scorecards.adjustments.counted_adjustments`).
    """
    return counted_since(lead.stage, lead.stage_changed_at, events)


def counted_since(
    stage: str, stage_changed_at: datetime, events: list[EventRecord]
) -> list[EventRecord]:
    """:func:`counted_events` of a lead in ``stage`` since ``stage_changed_at``."""
    if stage != Stage.NURTURE.value:
        return events
    return [event for event in events if event.ts > stage_changed_at]


def _evaluate(
    model: ScoringModel,
    leads: Sequence[Lead],
    accounts: Mapping[str, Account],
    events: Mapping[str, list[EventRecord]],
    predicted: Mapping[str, float],
    adjustments: Mapping[str, tuple[Adjustment, ...]],
    as_of: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> list[Scorecard]:
    """Scorecards of ``leads``: an account's leads together (roll-ups), others alone."""
    by_account: dict[str | None, list[Lead]] = defaultdict(list)
    for lead in leads:
        by_account[lead.account_id].append(lead)
    cards: list[Scorecard] = []
    done = 0
    for account_id, members in by_account.items():
        account = accounts.get(account_id) if account_id is not None else None
        record = account_record(account) if account is not None else None
        members_of: list[Member] = [
            (
                lead_record(
                    lead,
                    predicted.get(lead.id),
                    counted_adjustments(
                        lead.stage, lead.stage_changed_at, adjustments.get(lead.id, ())
                    ),
                ),
                counted_events(lead, events.get(lead.id, [])),
            )
            for lead in members
        ]
        groups = [[member] for member in members_of] if account is None else [members_of]
        for group in groups:
            cards.extend(evaluate_account(model, record, group, as_of))
        done += len(members)
        if progress is not None:
            progress(done, len(leads))
    return cards


def promote(
    session: Session,
    leads: Sequence[Lead],
    cards: Sequence[Scorecard],
    as_of: datetime,
    actor: str,
) -> tuple[list[Qualified], int]:
    """Move to ``mql`` the leads whose verdict holds and whose stage allows it; returns
    the moves and how many were not moved because their stage began after ``as_of``
    (history is never written before what is already recorded)."""
    by_id = {lead.id: lead for lead in leads}
    qualified: list[Qualified] = []
    stale = 0
    for card in cards:
        lead = by_id[card.lead_id]
        if not card.mql or Stage(lead.stage) not in AUTO_QUALIFY_FROM:
            continue
        if lead.stage_changed_at > as_of:
            stale += 1
            continue
        from_stage = lead.stage
        change = change_stage(
            session,
            lead=lead,
            to=Stage.MQL,
            actor=actor,
            at=as_of,
            reason=qualification_reason(card),
        )
        qualified.append(Qualified(lead.id, lead.email, from_stage, card, change))
    return qualified, stale


def score_all(
    session: Session,
    *,
    model: ScoringModel,
    as_of: datetime,
    actor: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScoreRun:
    """Score every lead as of ``as_of``, replace stored scorecards, promote new MQLs.

    Leads whose MQL definition holds move to ``mql`` when their stage allows it
    (subscriber, lead, nurture); each move gets a history row naming the model
    version and the deciding values. Recycled leads are scored on their
    activity since recycling (see :func:`counted_events`). A lead whose current
    stage began after ``as_of`` is scored but not moved: history is never
    written before what is already recorded.
    """
    actor = actor or f"system:{model.label}"
    # read again even if the session holds them: the inputs' digests must be current
    fresh = {"populate_existing": True}
    leads = session.scalars(select(Lead).order_by(Lead.id).execution_options(**fresh)).all()
    accounts = {
        account.id: account
        for account in session.scalars(select(Account).execution_options(**fresh))
    }
    predicted = predictions_by_lead(session)
    digests = _digests(leads, accounts, predicted)
    events = load_event_records(session, until=as_of)
    adjustments = load_adjustments(session)
    run = ScoreRun(model=model.label, as_of=as_of)
    computed_at = utcnow()
    cards = _evaluate(model, leads, accounts, events, predicted, adjustments, as_of, progress)
    for card in cards:
        run.leads += 1
        if card.grade is not None:
            run.grades[card.grade] += 1
        run.mql_verdicts += card.mql
    run.qualified, run.not_moved_stale = promote(session, leads, cards, as_of, actor)
    # a promotion moves the lead's stage, not what its card counted: digest it again
    digests.update(stored_inputs(session, lead_ids=[q.lead_id for q in run.qualified]))
    cards, digests = _rescore_recycled(session, model, as_of, cards, run.qualified, digests)
    session.execute(delete(StoredScorecard))
    rows = [
        stored_scorecard(card, computed_at=computed_at, inputs_digest=digests.get(card.lead_id))
        for card in cards
    ]
    for start in range(0, len(rows), 2000):
        session.execute(insert(StoredScorecard), rows[start : start + 2000])
    return run


def _rescore_recycled(
    session: Session,
    model: ScoringModel,
    as_of: datetime,
    cards: Sequence[Scorecard],
    qualified: Sequence[Qualified],
    digests: Mapping[str, str],
) -> tuple[list[Scorecard], dict[str, str]]:
    """``cards`` with those of leads just promoted out of ``nurture`` recomputed: back
    from nurture, a lead's whole history counts again (see :func:`counted_events`), so
    the card stored with the move is the one any later recomputation finds. The
    inputs' digests come with them (those of the recomputed leads read again)."""
    recycled = [q.lead_id for q in qualified if q.from_stage == Stage.NURTURE.value]
    if not recycled:
        return list(cards), dict(digests)
    _, again, read_again = evaluate_to_store(session, lead_ids=recycled, model=model, as_of=as_of)
    rescored = {card.lead_id: card for card in again}
    return [rescored.get(card.lead_id, card) for card in cards], {**digests, **read_again}


def _digests(
    leads: Iterable[Lead], accounts: Mapping[str, Account], predicted: Mapping[str, float]
) -> dict[str, str]:
    """Each lead's inputs digest as read here (see :mod:`leadgate.scorecards.inputs`)."""
    return {
        lead.id: lead_inputs(
            lead,
            accounts.get(lead.account_id) if lead.account_id is not None else None,
            predicted.get(lead.id),
        )
        for lead in leads
    }


def _rows_for(session: Session, model: ScoringModel, lead_ids: Sequence[str]) -> list[Lead]:
    """The leads to evaluate together: these, plus their account mates when roll-ups
    make one lead's activity part of another's score."""
    # in id order, never the table's physical order: promotions (and so round-robin
    # owners) follow this order, and PostgreSQL moves a row on every update
    # (read again even if the session holds them: the inputs' digests must be current)
    fresh = {"populate_existing": True}
    leads = list(
        session.scalars(
            select(Lead)
            .where(Lead.id.in_(list(lead_ids)))
            .order_by(Lead.id)
            .execution_options(**fresh)
        )
    )
    if not model.rollup_groups:
        return leads
    accounts = {lead.account_id for lead in leads if lead.account_id is not None}
    if not accounts:
        return leads
    mates = session.scalars(
        select(Lead)
        .where(Lead.account_id.in_(accounts))
        .order_by(Lead.id)
        .execution_options(**fresh)
    )
    return list({lead.id: lead for lead in [*leads, *mates]}.values())


def evaluate_leads(
    session: Session,
    *,
    lead_ids: Sequence[str],
    model: ScoringModel,
    as_of: datetime,
    recorded_predictions: Mapping[str, float | None] | None = None,
) -> tuple[list[Lead], list[Scorecard]]:
    """Evaluate these leads (and their account mates for roll-ups) over their whole
    counted history (events and score adjustments) as of ``as_of``; nothing is written.

    ``recorded_predictions`` replaces the stored prediction of those leads (None: no
    prediction): a recomputation of a stored scorecard uses the input it recorded.
    """
    leads, cards, _ = evaluate_to_store(
        session,
        lead_ids=lead_ids,
        model=model,
        as_of=as_of,
        recorded_predictions=recorded_predictions,
    )
    return leads, cards


def evaluate_to_store(
    session: Session,
    *,
    lead_ids: Sequence[str],
    model: ScoringModel,
    as_of: datetime,
    recorded_predictions: Mapping[str, float | None] | None = None,
) -> tuple[list[Lead], list[Scorecard], dict[str, str]]:
    """:func:`evaluate_leads`, with each lead's inputs digest as the evaluation read
    them (read before the events: a digest never covers an event it missed), which a
    stored card carries (see :mod:`leadgate.scorecards.inputs`)."""
    leads = _rows_for(session, model, lead_ids)
    if not leads:
        return [], [], {}
    ids = [lead.id for lead in leads]
    account_ids = {lead.account_id for lead in leads if lead.account_id is not None}
    accounts = {
        account.id: account
        for account in session.scalars(
            select(Account)
            .where(Account.id.in_(account_ids))
            .execution_options(populate_existing=True)
        )
    }
    predicted = {
        row.lead_id: row.probability
        for row in session.execute(
            select(Prediction.lead_id, Prediction.probability).where(Prediction.lead_id.in_(ids))
        )
    }
    digests = _digests(leads, accounts, predicted)
    events = load_event_records(session, lead_ids=ids, until=as_of)
    for lead_id, probability in (recorded_predictions or {}).items():
        if probability is None:
            predicted.pop(lead_id, None)
        else:
            predicted[lead_id] = probability
    adjustments = load_adjustments(session, lead_ids=ids)
    cards = _evaluate(model, leads, accounts, events, predicted, adjustments, as_of)
    return leads, cards, digests


def score_leads(
    session: Session,
    *,
    lead_ids: Sequence[str],
    model: ScoringModel,
    as_of: datetime,
    actor: str | None = None,
) -> tuple[list[Scorecard], list[Qualified]]:
    """Score some leads now (the request path): store their scorecards, promote new MQLs.

    The same rules as :func:`score_all`, for a handful of leads in the caller's
    transaction: each lead is evaluated over its whole counted history (and its
    account's, for roll-ups), so the stored result always equals what the pure
    evaluator computes from the full history.
    """
    actor = actor or f"system:{model.label}"
    leads, cards, digests = evaluate_to_store(session, lead_ids=lead_ids, model=model, as_of=as_of)
    if not cards:
        return [], []
    qualified, _ = promote(session, leads, cards, as_of, actor)
    # a promotion moves the lead's stage, not what its card counted: digest it again
    digests.update(stored_inputs(session, lead_ids=[q.lead_id for q in qualified]))
    cards, digests = _rescore_recycled(session, model, as_of, cards, qualified, digests)
    upsert_scorecards(session, cards=cards, computed_at=utcnow(), inputs_digests=digests)
    return cards, qualified


def stage_counts(session: Session) -> dict[str, int]:
    """How many leads sit in each stage, in funnel order."""
    counts = Counter(session.scalars(select(Lead.stage)).all())
    return {stage.value: counts.get(stage.value, 0) for stage in Stage}


def scorecards_for(session: Session, *, lead_ids: Sequence[str]) -> dict[str, StoredScorecard]:
    """Stored scorecards by lead id."""
    rows = session.scalars(
        select(StoredScorecard).where(StoredScorecard.lead_id.in_(list(lead_ids)))
    )
    return {row.lead_id: row for row in rows}
