"""Accept events and qualify their leads in the same transaction.

Every event of a request is stored (idempotently on ``event_id``), then each lead
that got a new event is scored over its whole history as of the request's
instant, its scorecard replaced and, when the MQL definition holds, moved to
``mql`` with its history row, all before the transaction commits: the response
already reflects the new stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.events.models import Event
from leadgate.events.schemas import EventCreate
from leadgate.events.service import EventRow, insert_event_rows
from leadgate.exceptions import NotFoundError
from leadgate.leads.models import Lead
from leadgate.leads.service import find_lead
from leadgate.scorecards.service import Qualified, score_leads
from leadgate.scoring.nodes import ScoringModel
from leadgate.scoring.scorecard import Scorecard

__all__ = ["IngestResult", "LeadState", "ingest_events"]


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


def resolve_leads(session: Session, events: Sequence[EventCreate]) -> list[Lead]:
    """The lead of each event; an unknown one is a NotFoundError naming its index."""
    found: dict[str, Lead] = {}
    leads = []
    for index, event in enumerate(events):
        ref = event.lead_id or event.email or ""
        lead = found.get(ref)
        if lead is None:
            lead = find_lead(session, ref=ref)
            if lead is None:
                where = f"events[{index}]" if len(events) > 1 else "event"
                raise NotFoundError(f"{where}: unknown lead {ref!r}; create it first")
            found[ref] = lead
        leads.append(lead)
    return leads


def ingest_events(
    session: Session,
    *,
    events: Sequence[EventCreate],
    model: ScoringModel,
    now: datetime,
    actor: str | None = None,
) -> IngestResult:
    """Store ``events`` and qualify their leads as of ``now``, all or nothing."""
    leads = resolve_leads(session, events)
    rows: list[EventRow] = []
    ids: list[str] = []
    seen: set[str] = set()
    for event, lead in zip(events, leads, strict=True):
        event_id = event.resolved_event_id()
        ids.append(event_id)
        if event_id in seen:
            continue
        seen.add(event_id)
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
    result = IngestResult()
    before = _stored_ids(session, [row[0] for row in rows])
    insert_event_rows(session, rows=rows, received_at=now)
    touched: dict[str, Lead] = {}
    for event_id, lead in zip(ids, leads, strict=True):
        if event_id in before:
            result.duplicates.append(event_id)
        else:
            result.stored.append(event_id)
            touched[lead.id] = lead
    if touched:
        cards, result.qualified = score_leads(
            session, lead_ids=list(touched), model=model, as_of=now, actor=actor
        )
        result.leads = {
            card.lead_id: _state(touched.get(card.lead_id), card)
            for card in cards
            if card.lead_id in touched
        }
    return result


def _state(lead: Lead | None, card: Scorecard) -> LeadState:
    assert lead is not None
    return LeadState(
        lead_id=lead.id, stage=lead.stage, scores=card.scores, grade=card.grade, mql=card.mql
    )


def _stored_ids(session: Session, event_ids: Sequence[str]) -> set[str]:
    if not event_ids:
        return set()
    return set(session.scalars(select(Event.event_id).where(Event.event_id.in_(list(event_ids)))))
