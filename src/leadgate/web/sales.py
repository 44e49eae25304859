"""The sales pages: the MQL queue (live), a lead's page, and the actions on them."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.api.deps import state
from leadgate.common.ids import utcnow
from leadgate.exceptions import NotFoundError, PermissionDeniedError
from leadgate.leads.models import Lead
from leadgate.leads.queue import SORTS, QueueFilters, filter_choices, queue_page
from leadgate.leads.reads import lead_detail, timeline
from leadgate.leads.service import get_lead
from leadgate.lifecycle import LISTED_REASON, NEEDS_REASON, Stage, allowed_targets
from leadgate.qualification.sales import Bant, complete_lead_task, move_lead, reassign_lead
from leadgate.reps.models import Rep
from leadgate.reps.service import assignable_reps
from leadgate.scorecards.models import Prediction, StoredScorecard
from leadgate.users.service import require_adjust, require_see
from leadgate.web.auth import SignedIn
from leadgate.web.pages import act, signed_in
from leadgate.web.render import render
from leadgate.web.state import web_state

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
User = Annotated[SignedIn, Depends(signed_in)]
PAGE_SIZE = 50
TIMELINE_PAGE = 50


def _filters(
    owner: str | None = Query(None, max_length=320),
    channel: str | None = Query(None, max_length=200),
    campaign: str | None = Query(None, max_length=300),
    grade: str | None = Query(None, max_length=50),
    tier: str | None = Query(None, max_length=50),
    sort: str | None = Query(None, max_length=20),
) -> QueueFilters:
    """The queue's filters and sort from the query string (an unknown sort: newest)."""
    return QueueFilters(
        owner=owner or None,
        channel=channel or None,
        campaign=campaign or None,
        grade=grade or None,
        tier=tier or None,
        sort=sort if sort in SORTS else "newest",
    )


Filters = Annotated[QueueFilters, Depends(_filters)]
Page = Annotated[int, Query(ge=1, le=100_000)]


def _queue_context(
    request: Request, user: SignedIn, filters: QueueFilters, page: int, *, choices: bool
) -> dict[str, Any]:
    service = state(request)
    model = service.model
    with service.reads.snapshot() as session:
        found = queue_page(
            session,
            filters=filters,
            team=user.viewer.team,
            score_group=model.group_names[0] if model.group_names else None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        # the filters' values only for the whole page: the rows fetched live skip them
        offered = web_state(request).choices.get(lambda: filter_choices(session)) if choices else {}
        reps = _reps(session)
        owners = assignable_reps(session, now=utcnow())
    return {
        "user": user,
        "filters": filters,
        "sorts": SORTS,
        "choices": offered,
        "grades": list(model.grades.labels) if model.grades else [],
        "groups": list(model.group_names),
        "page": page,
        "pages": max(1, -(-found.total // PAGE_SIZE)),
        "total": found.total,
        "rows": found.rows,
        "reps": reps,
        "assignable": owners,
        "rep_names": {rep.email: rep.name for rep in reps},
        "reasons": service.settings.rejection_reasons,
        "now": utcnow(),
        "query": request.url.query,
        "page_query": _page_query(filters),
    }


def _page_query(filters: QueueFilters) -> str:
    """The filters as a query string prefix for the pager's links."""
    values = {
        "owner": filters.owner,
        "channel": filters.channel,
        "campaign": filters.campaign,
        "grade": filters.grade,
        "tier": filters.tier,
        "sort": filters.sort,
    }
    kept = {key: value for key, value in values.items() if value}
    return urlencode(kept) + "&" if kept else ""


def _reps(session: Session) -> list[Rep]:
    """Every rep (the owner filter, names for owners)."""
    return list(session.scalars(select(Rep).order_by(Rep.name, Rep.email)))


@router.get("/queue")
def queue(request: Request, user: User, filters: Filters, page: Page = 1) -> Response:
    """The MQLs waiting for sales, newest first; updated live (see :mod:`.live`)."""
    return render("queue.html", **_queue_context(request, user, filters, page, choices=True))


@router.get("/queue/rows")
def queue_rows(request: Request, user: User, filters: Filters, page: Page = 1) -> Response:
    """The queue's table body alone: what the page fetches when told something changed."""
    context = _queue_context(request, user, filters, page, choices=False)
    response = render("_queue_rows.html", **context)
    response.headers["X-Queue-Total"] = str(context["total"])
    return response


def _moves(stage: str, reasons: list[str]) -> list[dict[str, Any]]:
    """The allowed moves of a lead in ``stage``, each with what it asks for."""
    source = Stage(stage)
    moves = []
    for target in allowed_targets(source):
        if (source, target) in LISTED_REASON:
            asks = "listed"
        elif (source, target) in NEEDS_REASON:
            asks = "text"
        else:
            asks = "none"
        moves.append({"to": target.value, "asks": asks, "bant": target is Stage.SQL})
    return moves


@router.get("/leads/{ref}")
def lead_page(
    request: Request,
    ref: str,
    user: User,
    items: int = Query(TIMELINE_PAGE, ge=1, le=10_000),
    error: str | None = Query(None, max_length=2000),
) -> Response:
    """Who, scores and grade, why (every rule as of now, with decay and its events),
    the prediction, the timeline, the allowed moves and the tasks."""
    service = state(request)
    now = utcnow()
    with service.reads.snapshot() as session:
        try:
            lead = get_lead(session, ref=ref)
            require_see(user.viewer, lead)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        except PermissionDeniedError as exc:
            raise HTTPException(403, str(exc)) from None
        detail = lead_detail(session, ref=lead.id, model=service.model, now=now)
        story = timeline(session, ref=lead.id, limit=items)
        stored = session.get(StoredScorecard, lead.id)
        prediction = session.get(Prediction, lead.id)
        owners = assignable_reps(session, now=now)
    rules = (detail["scorecard"] or {}).get("rules", [])
    return render(
        "lead.html",
        user=user,
        lead=detail,
        rules=[rule for rule in rules if rule["matched"]],
        unmatched=[rule for rule in rules if not rule["matched"]],
        checks=(detail["scorecard"] or {}).get("checks", []),
        stored=stored,
        prediction=prediction,
        story=story,
        items=items,
        more_items=items * 2,
        moves=_moves(detail["stage"], service.settings.rejection_reasons),
        reasons=service.settings.rejection_reasons,
        assignable=owners,
        can_act=user.viewer.acts_on_sales,
        can_adjust=_may_adjust(user, lead),
        adjustable=[group.name for group in service.model.rule_groups],
        error=error,
        now=now,
    )


def _may_adjust(user: SignedIn, lead: Lead) -> bool:
    try:
        require_adjust(user.viewer, lead)
    except PermissionDeniedError:
        return False
    return True


@router.post("/leads/{ref}/move")
def post_move(
    request: Request,
    ref: str,
    user: User,
    to: Annotated[Stage, Form()],
    reason: Annotated[str | None, Form(max_length=2000)] = None,
    budget: Annotated[str | None, Form(max_length=2000)] = None,
    authority: Annotated[str | None, Form(max_length=2000)] = None,
    need: Annotated[str | None, Form(max_length=2000)] = None,
    timeline_text: Annotated[str | None, Form(alias="timeline", max_length=2000)] = None,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Accept, reject or qualify a lead (the moves its stage allows)."""
    service = state(request)
    bant = Bant(budget=budget, authority=authority, need=need, timeline=timeline_text)

    def work(session: Session) -> Lead:
        move_lead(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            ref=ref,
            to=to,
            reason=reason,
            reasons=service.settings.rejection_reasons,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
            bant=None if bant.empty else bant,
            require_bant=True,
        )
        return get_lead(session, ref=ref)

    return act(request, user, csrf_token, back, work, lambda lead: {"stage": lead.stage})


@router.post("/leads/{ref}/reassign")
def post_reassign(
    request: Request,
    ref: str,
    user: User,
    owner: Annotated[str, Form(max_length=320)],
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Give the lead and its open tasks to another rep (or back to a queue)."""

    def work(session: Session) -> Lead:
        return reassign_lead(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            ref=ref,
            owner=owner,
            now=utcnow(),
        )

    return act(request, user, csrf_token, back, work, lambda lead: {"owner": lead.owner})


@router.post("/tasks/{task_id}/complete")
def post_complete(
    request: Request,
    task_id: str,
    user: User,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Mark a task done (on time or late: its SLA is recorded)."""

    def work(session: Session) -> Any:
        return complete_lead_task(
            session, viewer=user.viewer, actor=user.viewer.actor, task_id=task_id, now=utcnow()
        )

    return act(request, user, csrf_token, back, work, lambda task: {"sla_met": task.sla_met})
