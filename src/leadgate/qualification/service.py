"""Qualification: score leads, move those that meet the MQL definition, hand them off.

This is the application service every scoring path goes through outside the
ingest writer's group commit (which applies the same rules to its kept leads):
``leadgate score``, ``leadgate rescore`` (apply), ``leadgate explain``, the
scheduler and REST moves. It owns, once:

* which events count and the inputs the evaluator gets
  (:func:`leadgate.scorecards.service.evaluate_leads`);
* promotion, and the rescore of a lead promoted out of ``nurture``
  (:func:`leadgate.scorecards.service.score_leads` / ``score_all``);
* the rescore when a lead is recycled to ``nurture`` (its score starts over);
* the handoff of every stage entry, or its skip on record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadgate.common.ids import utcnow
from leadgate.exceptions import NotFoundError
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, upsert_lead
from leadgate.lifecycle import Stage
from leadgate.qualification.handoff import HandoffPolicy, hand_off, skip_handoff
from leadgate.scorecards.explain import explain_cards
from leadgate.scorecards.models import StoredScorecard
from leadgate.scorecards.service import (
    Qualified,
    ScoreRun,
    evaluate_to_store,
    score_all,
    score_leads,
    upsert_scorecards,
)
from leadgate.scoring.nodes import ScoringModel
from leadgate.scoring.scorecard import Scorecard

__all__ = [
    "BatchQualification",
    "enter_stage",
    "explain_lead",
    "qualify_all",
    "qualify_leads",
    "settle",
    "upsert_and_qualify",
]


@dataclass
class BatchQualification:
    """What a batch path did: its stage entries, and whether their handoffs ran."""

    handed_off: int = 0
    skipped: int = 0
    actions: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str | None:
        """One line for people: what was handed off, or that it was skipped (None: nothing)."""
        if self.skipped:
            return (
                f"handoff skipped for {self.skipped:,} stage entries (--no-handoff); "
                "`leadgate handoff release` runs them later"
            )
        if not self.handed_off:
            return None
        actions = ", ".join(f"{key} {n:,}" for key, n in sorted(self.actions.items()))
        return f"handed off {self.handed_off:,} lead(s): {actions or 'no actions'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "handed_off": self.handed_off,
            "handoffs_skipped": self.skipped,
            "handoff_actions": dict(sorted(self.actions.items())),
        }


def settle(
    session: Session,
    changes: Sequence[StageChange],
    handoff: HandoffPolicy | None,
    now: datetime,
) -> BatchQualification:
    """Hand off ``changes`` with ``handoff``, or record them as skipped (``None``)."""
    done = BatchQualification()
    if handoff is None:
        done.skipped = skip_handoff(session, changes=changes)
        return done
    for item in hand_off(session, changes=changes, policy=handoff, now=now):
        done.actions[item["action"]] = done.actions.get(item["action"], 0) + 1
    done.handed_off = len(changes)
    return done


def qualify_leads(
    session: Session,
    *,
    lead_ids: Sequence[str],
    model: ScoringModel,
    as_of: datetime,
    handoff: HandoffPolicy | None,
    now: datetime | None = None,
    actor: str | None = None,
) -> tuple[list[Scorecard], list[Qualified]]:
    """Score these leads as of ``as_of``, store their scorecards, promote new MQLs and
    hand them off (``handoff=None``: the skip is recorded on each stage entry)."""
    cards, qualified = score_leads(
        session, lead_ids=lead_ids, model=model, as_of=as_of, actor=actor
    )
    changes = [q.change for q in qualified if q.change is not None]
    settle(session, changes, handoff, now or utcnow())
    return cards, qualified


def upsert_and_qualify(
    session: Session,
    *,
    data: LeadCreate,
    model: ScoringModel,
    now: datetime,
    actor: str,
    handoff: HandoffPolicy | None,
) -> tuple[Lead, bool]:
    """Create or update a lead and qualify it at once (its fit alone may make it an
    MQL), handing off a new MQL; returns the lead and whether it was created."""
    lead, created = upsert_lead(session, data=data, now=now, actor=actor)
    qualify_leads(session, lead_ids=[lead.id], model=model, as_of=now, handoff=handoff, now=now)
    return lead, created


def qualify_all(
    session: Session,
    *,
    model: ScoringModel,
    as_of: datetime,
    handoff: HandoffPolicy | None,
    now: datetime | None = None,
    actor: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ScoreRun, BatchQualification]:
    """Score every lead (``leadgate score``), promote new MQLs and hand them off."""
    run = score_all(session, model=model, as_of=as_of, actor=actor, progress=progress)
    changes = [q.change for q in run.qualified if q.change is not None]
    return run, settle(session, changes, handoff, now or utcnow())


def enter_stage(
    session: Session,
    *,
    lead: Lead,
    to: Stage,
    actor: str,
    at: datetime,
    reason: str | None,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
) -> StageChange:
    """A move made by a person or a rule (not by scoring): record it, rescore the lead
    when it enters or leaves ``nurture`` (which of its events count changes with it,
    so the stored scorecard must say so at once), and hand off the entry."""
    change = change_stage(session, lead=lead, to=to, actor=actor, at=at, reason=reason)
    if Stage.NURTURE.value in (change.from_stage, change.to_stage):
        _, cards, digests = evaluate_to_store(session, lead_ids=[lead.id], model=model, as_of=at)
        upsert_scorecards(session, cards=cards, computed_at=utcnow(), inputs_digests=digests)
    settle(session, [change], handoff, at)
    return change


def explain_lead(
    session: Session, *, lead_id: str, model: ScoringModel, as_of: datetime
) -> Scorecard:
    """The lead's scorecard recomputed as of ``as_of`` from exactly the inputs the
    stored one is computed from (counted events, account, roll-ups, prediction).

    At the stored scorecard's own instant and model version, the prediction it
    recorded is used, not a newer one: the recomputation then equals what was stored.
    """
    recorded: dict[str, float | None] = {}
    stored = session.get(StoredScorecard, lead_id)
    if (
        stored is not None
        and stored.as_of == as_of
        and (stored.model_name, stored.model_version) == (model.name, model.version)
        and "predicted" in stored.breakdown
    ):
        recorded[lead_id] = stored.breakdown["predicted"]
    cards = explain_cards(
        session, lead_ids=[lead_id], model=model, as_of=as_of, recorded_predictions=recorded
    )
    for card in cards:
        if card.lead_id == lead_id:
            return card
    raise NotFoundError(f"no lead {lead_id!r}")
