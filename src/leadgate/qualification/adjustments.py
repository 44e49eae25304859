"""Manual score adjustments, checked against who makes them, on the record, and
scored at once.

"+20 engagement: met them at the trade fair", "-30 fit: a reseller, not an end
customer": a person adds points to (or takes them from) one rule group of the
model. Who may: a rep or manager on the leads they work, marketing and admin on
every lead (:func:`leadgate.users.service.require_adjust`). Every adjustment and
revocation goes on the audit trail (``score.adjusted``,
``score.adjustment_revoked``) and the lead is scored again through the
qualification service in the caller's transaction: an adjustment can make the
lead an MQL and hand it off, or make it stop meeting the definition, which by
itself never moves it out of MQL (as decay does not). What an adjustment means
to a score is the evaluator's (docs/scoring-models.md, "Manual adjustments").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadgate.audit.service import record
from leadgate.common.changes import note_change
from leadgate.exceptions import LeadgateError
from leadgate.leads.models import Lead
from leadgate.leads.service import get_lead
from leadgate.qualification.handoff import HandoffPolicy
from leadgate.qualification.service import qualify_leads
from leadgate.scorecards.adjustments import adjustment_dict, mark_revoked, record_adjustment
from leadgate.scorecards.models import ScoreAdjustment
from leadgate.scorecards.service import Qualified
from leadgate.scoring.nodes import RollupGroup, ScoringModel
from leadgate.scoring.scorecard import Scorecard
from leadgate.users.service import Viewer, require_adjust

__all__ = ["AdjustedLead", "adjust_score", "adjustable_group", "revoke_adjustment"]


@dataclass(frozen=True)
class AdjustedLead:
    """An adjustment made or revoked, and the lead right after its rescore."""

    adjustment: ScoreAdjustment
    lead_id: str
    stage: str
    scorecard: Scorecard | None
    qualified: list[Qualified] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        card = self.scorecard
        return {
            "adjustment": adjustment_dict(self.adjustment),
            "lead_id": self.lead_id,
            "stage": self.stage,
            "moved_to_mql": bool(self.qualified),
            "scores": {} if card is None else dict(card.scores),
            "grade": None if card is None else card.grade,
            "mql": False if card is None else card.mql,
        }


def adjustable_group(model: ScoringModel, group: str) -> str:
    """``group`` when people may adjust it in ``model`` (a rule group), else a clear
    refusal naming the groups that can be adjusted."""
    names = [rule_group.name for rule_group in model.rule_groups]
    try:
        found = model.group(group)
    except KeyError:
        raise LeadgateError(
            f"unknown group {group!r}: {model.label} has {', '.join(names)}"
        ) from None
    if isinstance(found, RollupGroup):
        raise LeadgateError(
            f"group {group!r} rolls up {found.source!r} over the account and cannot be "
            f"adjusted; adjust one of {', '.join(names)}"
        )
    return group


def _rescored(
    session: Session,
    *,
    lead: Lead,
    row: ScoreAdjustment,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    actor: str,
    now: datetime,
) -> AdjustedLead:
    cards, qualified = qualify_leads(
        session, lead_ids=[lead.id], model=model, as_of=now, handoff=handoff, now=now, actor=actor
    )
    card = next((card for card in cards if card.lead_id == lead.id), None)
    note_change(session, kind="lead.score_adjusted", lead_id=lead.id)
    return AdjustedLead(row, lead.id, lead.stage, card, qualified)


def adjust_score(
    session: Session,
    *,
    viewer: Viewer | None,
    actor: str,
    ref: str,
    group: str,
    points: float,
    reason: str,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    now: datetime,
) -> AdjustedLead:
    """Add ``points`` to the lead's ``group`` score from ``now`` on, with ``reason``.

    ``viewer`` (None for an operator or a key that belongs to no user) must be
    allowed to adjust the lead. The group must be a rule group of ``model``; points
    are non-zero and at most 1000 either way; the reason is required (at most 500
    characters). The lead is scored at once and handed off if it becomes an MQL
    (``handoff=None``: the skip is recorded), all in the caller's transaction.
    """
    lead = get_lead(session, ref=ref)
    if viewer is not None:
        require_adjust(viewer, lead)
    row = record_adjustment(
        session,
        lead=lead,
        group=adjustable_group(model, group.strip()),
        points=points,
        reason=reason,
        actor=actor,
        at=now,
    )
    record(
        session,
        actor=actor,
        action="score.adjusted",
        at=now,
        lead_id=lead.id,
        detail={
            "adjustment": row.id,
            "group": row.group_name,
            "points": row.points,
            "reason": row.reason,
        },
    )
    return _rescored(
        session, lead=lead, row=row, model=model, handoff=handoff, actor=actor, now=now
    )


def revoke_adjustment(
    session: Session,
    *,
    viewer: Viewer | None,
    actor: str,
    ref: str,
    adjustment_id: int,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    now: datetime,
) -> AdjustedLead:
    """Stop counting one of the lead's adjustments from ``now`` on (it stays on record
    and still counts before ``now``), then score the lead at once, as
    :func:`adjust_score` does. Refused for an adjustment of another lead (404) or
    one revoked already."""
    lead = get_lead(session, ref=ref)
    if viewer is not None:
        require_adjust(viewer, lead)
    row = mark_revoked(session, lead=lead, adjustment_id=adjustment_id, actor=actor, at=now)
    record(
        session,
        actor=actor,
        action="score.adjustment_revoked",
        at=now,
        lead_id=lead.id,
        detail={"adjustment": row.id, "group": row.group_name, "points": row.points},
    )
    return _rescored(
        session, lead=lead, row=row, model=model, handoff=handoff, actor=actor, now=now
    )
