"""Accept events and qualify their leads in the same transaction.

Every event of a request is stored (idempotently on ``event_id``), then each lead
that got a new event is scored over its whole history as of the request's
instant, its scorecard replaced and, when the MQL definition holds, moved to
``mql`` with its history row, all before the transaction commits: the response
already reflects the new stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch, time_reader
from leadgate.common.ids import utcnow
from leadgate.events.schemas import EventCreate
from leadgate.events.service import EventRow, insert_event_rows
from leadgate.exceptions import NotFoundError
from leadgate.ingest.live import LiveLead, LiveLeads
from leadgate.leads.models import Lead
from leadgate.lifecycle import AUTO_QUALIFY_FROM, Stage
from leadgate.scorecards.inputs import row_inputs, stored_inputs
from leadgate.scorecards.service import Qualified, promote, upsert_scorecards
from leadgate.scoring.evaluator import evaluate_histories
from leadgate.scoring.nodes import ScoringModel
from leadgate.scoring.records import EventRecord
from leadgate.scoring.scorecard import Scorecard

__all__ = ["IngestResult", "LeadState", "ingest_events", "ingest_requests"]


@dataclass(frozen=True)
class LeadState:
    """A lead's stage and scores right after the request."""

    lead_id: str
    stage: str
    scores: dict[str, float]
    grade: str | None
    mql: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "stage": self.stage,
            "scores": self.scores,
            "grade": self.grade,
            "mql": self.mql,
        }


@dataclass
class IngestResult:
    """What a request stored and what it changed."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    leads: dict[str, LeadState] = field(default_factory=dict)
    qualified: list[Qualified] = field(default_factory=list)


def ingest_events(
    session: Session,
    *,
    events: Sequence[EventCreate],
    model: ScoringModel,
    now: datetime,
    actor: str | None = None,
    live: LiveLeads | None = None,
) -> IngestResult:
    """Store ``events`` and qualify their leads as of ``now``, all or nothing.

    ``live`` keeps leads between calls (the service passes its own); without it
    the leads are loaded for this call only. An unknown lead raises
    NotFoundError before anything is written.
    """
    outcome = ingest_requests(
        session, requests=[events], model=model, now=now, actor=actor, live=live
    )[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def ingest_requests(
    session: Session,
    *,
    requests: Sequence[Sequence[EventCreate]],
    model: ScoringModel,
    now: datetime,
    actor: str | None = None,
    live: LiveLeads | None = None,
    on_qualified: Callable[[Sequence[Qualified]], None] | None = None,
    trusted: bool = False,
) -> list[IngestResult | NotFoundError]:
    """Apply several requests in one transaction, as if one after the other.

    This is the group commit of the service: one lookup of every lead of every
    request, one check for already-stored event ids, one insert, one scorecard
    write, one commit (the caller's). Each request still gets its own result: a
    request naming an unknown lead gets its NotFoundError and writes nothing,
    and each request's lead states are those right after its own events.
    ``on_qualified`` runs after each request's promotions (the handoff).
    ``trusted``: see :meth:`LiveLeads.resolve`.
    """
    if live is None:
        live = LiveLeads(model, capacity=max(1, sum(len(r) for r in requests)))
    actor = actor or f"system:{model.label}"
    refs = {_ref(event) for events in requests for event in events}
    leads = live.resolve(session, refs, trusted=trusted)
    outcomes: list[IngestResult | NotFoundError] = []
    accepted: list[list[tuple[str, LiveLead, EventCreate]]] = []
    for events in requests:
        missing = next(
            ((index, _ref(e)) for index, e in enumerate(events) if _ref(e) not in leads), None
        )
        if missing is not None:
            index, ref = missing
            where = f"events[{index}]" if len(events) > 1 else "event"
            outcomes.append(NotFoundError(f"{where}: unknown lead {ref!r}; create it first"))
            accepted.append([])
            continue
        outcomes.append(IngestResult())
        accepted.append([(e.resolved_event_id(), leads[_ref(e)], e) for e in events])
    ids = [event_id for items in accepted for event_id, _, _ in items]
    already = _stored_ids(session, ids)
    rows: list[EventRow] = []
    fresh: set[str] = set()
    for items in accepted:
        for event_id, lead, event in items:
            if event_id in already or event_id in fresh:
                continue
            fresh.add(event_id)
            rows.append(
                (
                    event_id,
                    lead.id,
                    event.type,
                    event.occurred_at,
                    event.channel,
                    event.campaign,
                    event.properties,
                )
            )
    insert_event_rows(session, rows=rows, received_at=now)
    cards: dict[str, Scorecard] = {}
    everyone = {lead.id: lead for lead in leads.values()}
    mates: dict[str, list[LiveLead]] = {}
    if model.rollup_groups:
        for lead in everyone.values():
            if lead.account_id is not None:
                mates.setdefault(lead.account_id, []).append(lead)
    for outcome, items in zip(outcomes, accepted, strict=True):
        if isinstance(outcome, NotFoundError):
            continue
        touched: dict[str, LiveLead] = {}
        counted: dict[str, list[EventRecord]] = {}
        for event_id, lead, event in items:
            if event_id in fresh:
                fresh.discard(event_id)
                outcome.stored.append(event_id)
                lead.stored_events += 1
                if _counts(lead, event):
                    counted.setdefault(lead.id, []).append(_record(event_id, event))
                touched[lead.id] = lead
            else:
                outcome.duplicates.append(event_id)
        for lead_id, records in counted.items():
            touched[lead_id].history.add(records)
        scored = _score(model, touched.values(), mates, now)
        outcome.qualified = _promote_live(session, live, everyone, scored, now, actor)
        recycled = [q.lead_id for q in outcome.qualified if q.from_stage == Stage.NURTURE.value]
        if recycled:
            # back from nurture: its whole history counts again (see counted_events)
            again = [everyone[lead_id] for lead_id in recycled]
            for lead in again:
                live.rebuild(session, lead)
            rescored = {c.lead_id: c for c in _score(model, again, mates, now)}
            scored = [rescored.get(card.lead_id, card) for card in scored]
        cards.update((card.lead_id, card) for card in scored)
        outcome.leads = {
            card.lead_id: LeadState(
                lead_id=card.lead_id,
                stage=everyone[card.lead_id].stage,
                scores=card.scores,
                grade=card.grade,
                mql=card.mql,
            )
            for card in scored
            if card.lead_id in touched
        }
        if outcome.qualified and on_qualified is not None:
            on_qualified(outcome.qualified)
    upsert_scorecards(
        session,
        cards=list(cards.values()),
        computed_at=utcnow(),
        inputs_digests=_digests(session, everyone.values()),
    )
    return outcomes


def _digests(session: Session, leads: Iterable[LiveLead]) -> dict[str, str]:
    """The inputs digest of each lead as checked against the database for this group;
    a lead moved since (promoted: its stage changed, not what its card counted) is
    digested as it is stored now."""
    read_time = time_reader(session.get_bind().dialect.name)
    digests: dict[str, str] = {}
    moved: list[str] = []
    for lead in leads:
        if lead.fingerprint is None:
            moved.append(lead.id)
            continue
        updated, stage, started, account_id, account_updated, predicted, _ = lead.fingerprint
        digests[lead.id] = row_inputs(
            read_time,
            lead.stored_events,
            updated,
            stage,
            started,
            account_id,
            account_updated,
            predicted,
        )
    digests.update(stored_inputs(session, lead_ids=moved))
    return digests


def _ref(event: EventCreate) -> str:
    return (event.lead_id or event.email or "").strip()


def _record(event_id: str, event: EventCreate) -> EventRecord:
    return EventRecord(
        id=event_id,
        type=event.type,
        ts=event.occurred_at,
        properties=event.properties,
        channel=event.channel,
        campaign=event.campaign,
    )


def _counts(lead: LiveLead, event: EventCreate) -> bool:
    """Whether the event counts for the lead's score (see ``counted_events``)."""
    return lead.stage != Stage.NURTURE.value or event.occurred_at > lead.stage_changed_at


def _score(
    model: ScoringModel,
    touched: Iterable[LiveLead],
    mates: Mapping[str, list[LiveLead]],
    as_of: datetime,
) -> list[Scorecard]:
    """Scorecards of the touched leads (with their account mates, for roll-ups:
    ``mates`` lists each account's leads)."""
    cards: list[Scorecard] = []
    done: set[str] = set()
    for lead in touched:
        if lead.id in done:
            continue
        group = [lead]
        if lead.account_id is not None and lead.account_id in mates:
            group = mates[lead.account_id]
        done.update(member.id for member in group)
        cards.extend(evaluate_histories(model, [member.history for member in group], as_of))
    return cards


def _promote_live(
    session: Session,
    live: LiveLeads,
    by_id: Mapping[str, LiveLead],
    cards: Sequence[Scorecard],
    as_of: datetime,
    actor: str,
) -> list[Qualified]:
    """Promote through the one MQL rule (:func:`promote`); only leads whose verdict
    holds in a stage that allows it are read through the ORM."""
    candidates = [
        card for card in cards if card.mql and Stage(by_id[card.lead_id].stage) in AUTO_QUALIFY_FROM
    ]
    if not candidates:
        return []
    # one query for all of them (the kept leads are not in the session's identity map)
    stored = session.scalars(
        select(Lead).where(Lead.id.in_([card.lead_id for card in candidates]))
    ).all()
    qualified, _ = promote(session, stored, candidates, as_of, actor)
    for item in qualified:
        live.moved(by_id[item.lead_id], stage=Stage.MQL, at=as_of)
    return qualified


def _stored_ids(session: Session, event_ids: Sequence[str]) -> set[str]:
    if not event_ids:
        return set()
    dialect = session.get_bind().dialect.name
    test, params = any_of(dialect, "event_id", sorted(set(event_ids)))
    return {row[0] for row in fetch(session, f"SELECT event_id FROM events WHERE {test}", params)}
