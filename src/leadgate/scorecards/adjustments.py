"""Score adjustments on record: write one, revoke one, read them as evaluator inputs.

Who may adjust, which groups a model lets people adjust, the audit entry and the
rescore belong to the application service
(:mod:`leadgate.qualification.adjustments`); this module keeps the rows right
(points and reason checked, never deleted) and reads them below the ORM for the
scoring paths, as the events are read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch, time_reader
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead
from leadgate.lifecycle import Stage
from leadgate.scorecards.models import MAX_ADJUSTMENT, MAX_REASON, ScoreAdjustment
from leadgate.scoring.records import Adjustment

__all__ = [
    "adjustment_dict",
    "adjustment_record",
    "counted_adjustments",
    "list_adjustments",
    "load_adjustments",
    "mark_revoked",
    "record_adjustment",
]


def _checked_points(points: float) -> float:
    value = float(points)
    if not math.isfinite(value) or value == 0 or abs(value) > MAX_ADJUSTMENT:
        raise LeadgateError(
            f"points must be a number other than 0, at most {MAX_ADJUSTMENT:g} either way "
            f"(got {points!r})"
        )
    return value


def _checked_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise LeadgateError(
            "an adjustment needs a reason: what the person knows that scoring does not"
        )
    if len(text) > MAX_REASON:
        raise LeadgateError(f"the reason may have at most {MAX_REASON} characters")
    return text


def record_adjustment(
    session: Session,
    *,
    lead: Lead,
    group: str,
    points: float,
    reason: str,
    actor: str,
    at: datetime,
) -> ScoreAdjustment:
    """Add an adjustment counting from ``at`` (flushed: it has its id). The lead's
    ``updated_at`` moves too: the service's kept leads reload a lead whose
    fingerprint changed (:mod:`leadgate.ingest.live`)."""
    row = ScoreAdjustment(
        lead_id=lead.id,
        group_name=group,
        points=_checked_points(points),
        reason=_checked_reason(reason),
        actor=actor,
        at=at,
    )
    session.add(row)
    lead.updated_at = at
    session.flush()
    return row


def mark_revoked(
    session: Session, *, lead: Lead, adjustment_id: int, actor: str, at: datetime
) -> ScoreAdjustment:
    """Revoke one of the lead's adjustments from ``at`` on (it stays on record and
    still counts before ``at``); refused when it is revoked already."""
    row = session.get(ScoreAdjustment, adjustment_id)
    if row is None or row.lead_id != lead.id:
        raise NotFoundError(f"lead {lead.id} has no adjustment {adjustment_id}")
    if row.revoked_at is not None:
        raise LeadgateError(
            f"adjustment {adjustment_id} was revoked already "
            f"({row.revoked_at.isoformat()} by {row.revoked_by})"
        )
    if at < row.at:
        raise LeadgateError(f"adjustment {adjustment_id} cannot be revoked before it was made")
    row.revoked_at = at
    row.revoked_by = actor
    lead.updated_at = at
    session.flush()
    return row


def list_adjustments(session: Session, *, lead_id: str) -> Sequence[ScoreAdjustment]:
    """A lead's adjustments, revoked ones included, oldest first."""
    return session.scalars(
        select(ScoreAdjustment)
        .where(ScoreAdjustment.lead_id == lead_id)
        .order_by(ScoreAdjustment.at, ScoreAdjustment.id)
    ).all()


def adjustment_record(row: ScoreAdjustment) -> Adjustment:
    """The evaluator's view of a stored adjustment."""
    return Adjustment(
        id=str(row.id),
        group=row.group_name,
        points=row.points,
        at=row.at,
        revoked_at=row.revoked_at,
        reason=row.reason,
        actor=row.actor,
    )


def adjustment_dict(row: ScoreAdjustment) -> dict[str, Any]:
    """An adjustment as the API and the CLI show it."""
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "group": row.group_name,
        "points": row.points,
        "reason": row.reason,
        "actor": row.actor,
        "at": row.at.isoformat(),
        "revoked_at": None if row.revoked_at is None else row.revoked_at.isoformat(),
        "revoked_by": row.revoked_by,
    }


def load_adjustments(
    session: Session, *, lead_ids: Iterable[str] | None = None
) -> dict[str, tuple[Adjustment, ...]]:
    """Adjustments (revoked ones included: they count before their revocation) by
    lead, as evaluator records; every lead's when ``lead_ids`` is None."""
    session.flush()  # read below the ORM: it must see the ORM's pending changes
    dialect = session.get_bind().dialect.name
    where = ""
    params: list[Any] = []
    if lead_ids is not None:
        test, params = any_of(dialect, "lead_id", sorted(set(lead_ids)))
        where = f" WHERE {test}"
    rows = fetch(
        session,
        "SELECT lead_id, id, group_name, points, at, revoked_at, reason, actor "
        f"FROM score_adjustments{where} ORDER BY lead_id, at, id",
        params,
    )
    read_time = time_reader(dialect)
    grouped: dict[str, list[Adjustment]] = defaultdict(list)
    for lead_id, number, group, points, at, revoked_at, reason, actor in rows:
        grouped[lead_id].append(
            Adjustment(
                id=str(number),
                group=group,
                points=float(points),
                at=read_time(at),
                revoked_at=None if revoked_at is None else read_time(revoked_at),
                reason=reason,
                actor=actor,
            )
        )
    return {lead_id: tuple(items) for lead_id, items in grouped.items()}


def counted_adjustments(
    stage: str, stage_changed_at: datetime, adjustments: tuple[Adjustment, ...]
) -> tuple[Adjustment, ...]:
    """The adjustments that count for a lead in ``stage`` since ``stage_changed_at``:
    the counted-events rule (:func:`leadgate.scorecards.service.counted_since`)
    applied to them. A recycled (``nurture``) lead counts only those made after it
    was recycled: sales has judged the lead since."""
    if stage != Stage.NURTURE.value or not adjustments:
        return adjustments
    return tuple(item for item in adjustments if item.at > stage_changed_at)
