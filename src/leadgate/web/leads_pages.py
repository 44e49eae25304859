"""The lead pages: search across every stage, create and edit a lead, merge two,
reassign many at once. Role checks live in :mod:`leadgate.qualification.lead_edits`;
reads in :mod:`leadgate.leads.search`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from leadgate.accounts.models import Account
from leadgate.api.deps import state
from leadgate.common.ids import new_id, utcnow
from leadgate.events.models import Event
from leadgate.exceptions import LeadgateError, NotFoundError, PermissionDeniedError
from leadgate.leads.models import Lead
from leadgate.leads.search import search_leads
from leadgate.leads.service import get_lead
from leadgate.lifecycle import Stage
from leadgate.qualification.lead_edits import (
    EDITABLE,
    LeadFields,
    create_lead,
    edit_lead,
    merge_two,
    reassign_many,
)
from leadgate.reps.service import assignable_reps
from leadgate.users.service import Viewer, require_act, require_see
from leadgate.web.auth import SignedIn
from leadgate.web.pages import act, signed_in
from leadgate.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
User = Annotated[SignedIn, Depends(signed_in)]
PAGE_SIZE = 50
Text = Annotated[str | None, Form(max_length=300)]
Token = Annotated[str | None, Form(max_length=200)]

#: The form's labels of the lead fields, in the form's order.
LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "title": "Title",
    "country": "Country",
    "channel": "Channel",
    "campaign": "Campaign",
    "account_domain": "Account domain",
}


def _looked_up(work: Callable[[], Lead]) -> Lead:
    """A lead read for a page: 404 and 403 as pages (the error handler renders them)."""
    try:
        return work()
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except PermissionDeniedError as exc:
        raise HTTPException(403, str(exc)) from None


def _then(response: Response, back: str, success: str) -> Response:
    """``act``'s answer, with a successful form post sent on to ``success`` (a refused
    one goes ``back`` with its message, as ``act`` answers it)."""
    if response.status_code == 303 and response.headers.get("location") == back:
        return RedirectResponse(success, status_code=303)
    return response


def _owners(session: Session, fallback: str) -> list[tuple[str, str]]:
    """The owners a lead can be given: reps available and not away today, and the
    unassigned queue."""
    owners = [(rep.email, rep.name) for rep in assignable_reps(session, now=utcnow())]
    queue = fallback if fallback.startswith("queue:") else "queue:unassigned"
    return [*owners, (queue, "the unassigned queue")]


@router.get("/leads")
def leads(
    request: Request,
    user: User,
    q: str | None = Query(None, max_length=200),
    stage: str | None = Query(None, max_length=32),
    page: int = Query(1, ge=1, le=100_000),
    error: str | None = Query(None, max_length=2000),
) -> Response:
    """Search leads by name, email or account name across every stage."""
    service = state(request)
    chosen = Stage(stage) if stage in {s.value for s in Stage} else None
    with service.reads.snapshot() as session:
        found = search_leads(
            session,
            text=q,
            team=user.viewer.team,
            stage=chosen,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        owners = _owners(session, service.settings.fallback_owner)
    kept = {key: value for key, value in (("q", q), ("stage", chosen)) if value}
    query = urlencode(kept)
    return render(
        "leads.html",
        user=user,
        q=q or "",
        stage=chosen.value if chosen else "",
        stages=[s.value for s in Stage],
        rows=found.rows,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        page_query=query + "&" if query else "",
        here="/leads" + (f"?{query}&page={page}" if query else f"?page={page}"),
        groups=list(service.model.group_names),
        owners=owners,
        can_act=user.viewer.acts_on_sales,
        error=error,
    )


def _form(
    user: SignedIn,
    *,
    action: str,
    values: dict[str, Any],
    lead: Lead | None,
    error: str | None,
) -> Response:
    return render(
        "leads_form.html",
        user=user,
        action=action,
        values=values,
        labels=LABELS,
        lead=lead,
        error=error,
    )


def _sales_only(viewer: Viewer) -> None:
    if not viewer.acts_on_sales:
        raise HTTPException(403, f"a {viewer.role.value} user cannot change leads")


@router.get("/leads/new")
def new_lead_form(user: User, error: str | None = Query(None, max_length=2000)) -> Response:
    """The form to create a lead."""
    _sales_only(user.viewer)
    return _form(user, action="/leads", values={}, lead=None, error=error)


def _fields(
    first_name: Text = None,
    last_name: Text = None,
    title: Text = None,
    country: Text = None,
    channel: Text = None,
    campaign: Text = None,
    account_domain: Text = None,
) -> LeadFields:
    """The lead form's fields (new and edit alike)."""
    return LeadFields(
        first_name=first_name,
        last_name=last_name,
        title=title,
        country=country,
        channel=channel,
        campaign=campaign,
        account_domain=account_domain,
    )


Fields = Annotated[LeadFields, Depends(_fields)]


@router.post("/leads")
def post_new_lead(
    request: Request,
    user: User,
    email: Annotated[str, Form(max_length=320)],
    fields: Fields,
    csrf_token: Token = None,
) -> Response:
    """Create a lead and score it; on to its page."""
    service = state(request)
    lead_id = new_id("ld")

    def work(session: Session) -> Lead:
        return create_lead(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            email=email,
            fields=fields,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
            lead_id=lead_id,
        )

    back = "/leads/new"
    answer = act(request, user, csrf_token, back, work, lambda lead: {"id": lead.id})
    return _then(answer, back, f"/leads/{lead_id}")


@router.get("/leads/merge")
def merge_form(
    request: Request,
    user: User,
    a: str | None = Query(None, max_length=320),
    b: str | None = Query(None, max_length=320),
    error: str | None = Query(None, max_length=2000),
) -> Response:
    """Two leads side by side, to choose the one to keep (or the form naming them)."""
    _sales_only(user.viewer)
    service = state(request)
    pair: list[dict[str, Any]] = []
    if a and b:
        with service.reads.snapshot() as session:
            for ref in (a, b):
                lead = _looked_up(partial(_seen, session, user.viewer, ref))
                account = session.get(Account, lead.account_id) if lead.account_id else None
                events = session.scalar(select(func.count()).where(Event.lead_id == lead.id))
                pair.append({"lead": lead, "account": account, "events": events or 0})
        if pair[0]["lead"].id == pair[1]["lead"].id:
            error = error or "these name the same lead: choose two different leads"
    return render(
        "leads_merge.html",
        user=user,
        a=a or "",
        b=b or "",
        pair=pair,
        fields=EDITABLE,
        labels=LABELS,
        error=error,
    )


def _seen(session: Session, viewer: Viewer, ref: str) -> Lead:
    lead = get_lead(session, ref=ref)
    require_see(viewer, lead)
    return lead


@router.post("/leads/merge")
def post_merge(
    request: Request,
    user: User,
    a: Annotated[str, Form(max_length=320)],
    b: Annotated[str, Form(max_length=320)],
    keep: Annotated[str, Form(max_length=320)],
    csrf_token: Token = None,
) -> Response:
    """Merge lead ``a`` and lead ``b`` into the one chosen as ``keep``; on to its page."""
    service = state(request)
    back = "/leads/merge?" + urlencode({"a": a, "b": b})
    if keep not in (a, b):
        return act(request, user, csrf_token, back, _refuse_keep)
    drop = b if keep == a else a

    def work(session: Session) -> Lead:
        return merge_two(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            keep_ref=keep,
            drop_ref=drop,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
        )

    answer = act(request, user, csrf_token, back, work, lambda lead: {"id": lead.id})
    return _then(answer, back, f"/leads/{keep}")


def _refuse_keep(session: Session) -> None:
    raise LeadgateError("keep one of the two leads being merged")


@router.post("/leads/reassign")
def post_bulk_reassign(
    request: Request,
    user: User,
    owner: Annotated[str, Form(max_length=320)],
    lead: Annotated[list[str] | None, Form()] = None,
    csrf_token: Token = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Give every selected lead to one owner, all or none."""

    def work(session: Session) -> list[Lead]:
        return reassign_many(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            refs=lead or [],
            owner=owner,
            now=utcnow(),
        )

    return act(
        request,
        user,
        csrf_token,
        back or "/leads",
        work,
        lambda moved: {"reassigned": len(moved), "owner": owner},
    )


@router.get("/leads/{ref}/edit")
def edit_form(
    request: Request, ref: str, user: User, error: str | None = Query(None, max_length=2000)
) -> Response:
    """The form to change a lead's fields (only for those who may work the lead)."""
    service = state(request)
    with service.reads.snapshot() as session:

        def work() -> Lead:
            found = get_lead(session, ref=ref)
            require_act(user.viewer, found)
            return found

        lead = _looked_up(work)
        account = session.get(Account, lead.account_id) if lead.account_id else None
        values = {name: getattr(lead, name) or "" for name in EDITABLE}
        values["account_domain"] = (account.domain or "") if account is not None else ""
    return _form(user, action=f"/leads/{lead.id}/edit", values=values, lead=lead, error=error)


@router.post("/leads/{ref}/edit")
def post_edit(
    request: Request,
    ref: str,
    user: User,
    fields: Fields,
    csrf_token: Token = None,
) -> Response:
    """Save the lead's fields and score it again; back to its page."""
    service = state(request)

    def work(session: Session) -> Lead:
        return edit_lead(
            session,
            viewer=user.viewer,
            actor=user.viewer.actor,
            ref=ref,
            fields=fields,
            model=service.model,
            handoff=service.handoff_policy,
            now=utcnow(),
        )

    back = f"/leads/{ref}/edit"
    answer = act(request, user, csrf_token, back, work, lambda lead: {"id": lead.id})
    return _then(answer, back, f"/leads/{ref}")
