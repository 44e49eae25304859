"""Adjusting a lead's score by hand from its page, and revoking an adjustment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.api.deps import state
from leadgate.common.ids import utcnow
from leadgate.qualification import AdjustedLead, adjust_score, revoke_adjustment
from leadgate.web.auth import SignedIn
from leadgate.web.pages import act, signed_in

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
User = Annotated[SignedIn, Depends(signed_in)]


def _done(result: AdjustedLead) -> dict[str, object]:
    scores = {} if result.scorecard is None else result.scorecard.scores
    return {"stage": result.stage, "scores": scores, "adjustment": result.adjustment.id}


@router.post("/leads/{ref}/adjustments")
def post_adjustment(
    request: Request,
    ref: str,
    user: User,
    group: Annotated[str, Form(max_length=200)],
    points: Annotated[float, Form(ge=-1000, le=1000)],
    reason: Annotated[str, Form(max_length=500)],
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Add points to one group of the lead's score, with a reason (audited); the lead
    is rescored at once and may become an MQL."""
    service = state(request)

    def work(session: Session) -> AdjustedLead:
        return adjust_score(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            ref=ref,
            group=group,
            points=points,
            reason=reason,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
        )

    return act(request, user, csrf_token, f"/leads/{ref}", work, _done)


@router.post("/leads/{ref}/adjustments/{adjustment_id}/revoke")
def post_revoke(
    request: Request,
    ref: str,
    adjustment_id: int,
    user: User,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Stop an adjustment counting from now on (it stays in the history)."""
    service = state(request)

    def work(session: Session) -> AdjustedLead:
        return revoke_adjustment(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            ref=ref,
            adjustment_id=adjustment_id,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
        )

    return act(request, user, csrf_token, f"/leads/{ref}", work, _done)
