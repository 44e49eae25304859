"""Thin router for leads: upsert, read (scores as of now), list, timeline, transition,
reassign, and manual score adjustments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from leadgate.api.deps import AdminKey, SalesKey, snapshot, state, transaction
from leadgate.common.ids import utcnow
from leadgate.leads import reads
from leadgate.leads.schemas import (
    AdjustmentResult,
    LeadCreate,
    LeadDetail,
    LeadList,
    LeadUpserted,
    Timeline,
)
from leadgate.leads.service import get_lead as get_lead_row
from leadgate.leads.service import list_leads as find_leads
from leadgate.lifecycle import Stage
from leadgate.qualification.adjustments import adjust_score, revoke_adjustment
from leadgate.qualification.sales import Bant, move_lead, reassign_lead
from leadgate.qualification.service import upsert_and_qualify
from leadgate.scorecards.models import MAX_ADJUSTMENT, MAX_REASON
from leadgate.users.service import require_see

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class QualificationIn(BaseModel):
    """What sales learned when qualifying a lead (BANT); required on a move to ``sql``."""

    model_config = ConfigDict(extra="forbid")

    budget: str | None = Field(default=None, max_length=2000)
    authority: str | None = Field(default=None, max_length=2000)
    need: str | None = Field(default=None, max_length=2000)
    timeline: str | None = Field(default=None, max_length=2000)


class TransitionRequest(BaseModel):
    """A sales move: the target stage, the reason when sending a lead back, and the
    qualification (BANT) on a move to ``sql``."""

    to: Stage
    reason: str | None = Field(default=None, max_length=1000)
    qualification: QualificationIn | None = None


class ReassignRequest(BaseModel):
    """The new owner: a rep's email, or a queue (``queue:...``)."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=320)


class AdjustmentRequest(BaseModel):
    """Points a person adds to (negative: takes from) one rule group's score, and why."""

    model_config = ConfigDict(extra="forbid")

    group: str = Field(min_length=1, max_length=200, description="A rule group of the model")
    points: float = Field(
        ge=-MAX_ADJUSTMENT,
        le=MAX_ADJUSTMENT,
        allow_inf_nan=False,
        description="Non-zero; added after the group's caps, never decays",
    )
    reason: str = Field(min_length=1, max_length=MAX_REASON)


@router.put("", response_model=LeadUpserted, summary="Create or update a lead (by email or id)")
def upsert(data: LeadCreate, request: Request, caller: AdminKey) -> dict[str, Any]:
    service = state(request)
    now = utcnow()
    with transaction(request) as db:
        lead, created = upsert_and_qualify(
            db,
            data=data,
            model=service.model,
            now=now,
            actor=caller.actor,
            handoff=service.handoff_policy,
        )
        detail = reads.lead_detail(db, ref=lead.id, model=service.model, now=now)
    return {"created": created, **detail}


@router.get("", response_model=LeadList, summary="List leads with filters")
def list_leads(
    request: Request,
    caller: SalesKey,
    stage: Stage | None = None,
    owner: str | None = Query(None, max_length=320),
    grade: str | None = Query(None, max_length=50),
    min_score: float | None = Query(
        None, description="Lowest stored score (any group with --group)"
    ),
    max_score: float | None = None,
    group: str | None = Query(None, description="Score group the score range applies to"),
    account: str | None = Query(None, max_length=64),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    service = state(request)
    with snapshot(request) as db:
        page = find_leads(
            db,
            stage=stage,
            owner=owner,
            grade=grade,
            min_score=min_score,
            max_score=max_score,
            group=group,
            groups=service.model.group_names,
            account=account,
            limit=limit,
            offset=offset,
            team=None if caller.viewer is None else caller.viewer.team,
        )
    return {
        "total": page.total,
        "leads": [
            {
                "id": row.lead.id,
                "email": row.lead.email,
                "stage": row.lead.stage,
                "account_id": row.lead.account_id,
                "scores": row.scorecard.scores if row.scorecard is not None else {},
                "grade": row.scorecard.grade if row.scorecard is not None else None,
                "scored_at": row.scorecard.as_of.isoformat() if row.scorecard else None,
            }
            for row in page.rows
        ],
    }


@router.get(
    "/{ref}", response_model=LeadDetail, summary="One lead by id or email, scored as of now"
)
def get_lead(ref: str, request: Request, caller: SalesKey) -> dict[str, Any]:
    service = state(request)
    with snapshot(request) as db:
        if caller.viewer is not None:
            require_see(caller.viewer, get_lead_row(db, ref=ref))
        return reads.lead_detail(db, ref=ref, model=service.model, now=utcnow())


@router.get(
    "/{ref}/timeline",
    response_model=Timeline,
    summary="Events, stage changes, tasks and webhook deliveries in time order",
)
def timeline(
    ref: str,
    request: Request,
    caller: SalesKey,
    limit: int = Query(1000, ge=1, le=10_000, description="The latest items to return"),
) -> dict[str, Any]:
    with snapshot(request) as db:
        return reads.timeline(db, ref=ref, limit=limit)


@router.post(
    "/{ref}/transition",
    response_model=LeadDetail,
    summary="Move a lead (409 with the allowed targets)",
)
def transition(
    ref: str,
    move: TransitionRequest,
    request: Request,
    caller: SalesKey,
) -> dict[str, Any]:
    service = state(request)
    now = utcnow()
    bant = None if move.qualification is None else Bant(**move.qualification.model_dump())
    with transaction(request) as db:
        move_lead(
            db,
            viewer=caller.viewer,
            actor=caller.actor,
            ref=ref,
            to=move.to,
            reason=move.reason,
            reasons=service.settings.rejection_reasons,
            model=service.model,
            handoff=service.handoff_policy,
            now=now,
            bant=bant,
        )
        return reads.lead_detail(db, ref=ref, model=service.model, now=now)


@router.post(
    "/{ref}/reassign",
    response_model=LeadDetail,
    summary="Give a lead and its open tasks to another rep (or a queue:...)",
)
def reassign(ref: str, body: ReassignRequest, request: Request, caller: SalesKey) -> dict[str, Any]:
    service = state(request)
    now = utcnow()
    with transaction(request) as db:
        reassign_lead(
            db, viewer=caller.viewer, actor=caller.actor, ref=ref, owner=body.owner, now=now
        )
        return reads.lead_detail(db, ref=ref, model=service.model, now=now)


@router.post(
    "/{ref}/adjustments",
    response_model=AdjustmentResult,
    status_code=201,
    summary="Adjust a lead's score by hand (scored at once; may make it an MQL)",
)
def adjust(ref: str, body: AdjustmentRequest, request: Request, caller: SalesKey) -> dict[str, Any]:
    service = state(request)
    with transaction(request) as db:
        done = adjust_score(
            db,
            viewer=caller.viewer,
            actor=caller.actor,
            ref=ref,
            group=body.group,
            points=body.points,
            reason=body.reason,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
        )
        return done.to_dict()


@router.delete(
    "/{ref}/adjustments/{adjustment_id}",
    response_model=AdjustmentResult,
    summary="Revoke a score adjustment from now on (it stays on record)",
)
def revoke(ref: str, adjustment_id: int, request: Request, caller: SalesKey) -> dict[str, Any]:
    service = state(request)
    with transaction(request) as db:
        done = revoke_adjustment(
            db,
            viewer=caller.viewer,
            actor=caller.actor,
            ref=ref,
            adjustment_id=adjustment_id,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
        )
        return done.to_dict()
