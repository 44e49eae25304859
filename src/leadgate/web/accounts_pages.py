"""The account pages: the ABM queue (accounts whose contacts together meet the
account-level definition) and one account with its leads, roll-up and weekly
engagement chart. Reads in :mod:`leadgate.accounts.reads` and ``.abm``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from leadgate.accounts.abm import AbmDefinition, abm_queue, account_tiers
from leadgate.accounts.reads import account_view
from leadgate.api.deps import state
from leadgate.common.ids import utcnow
from leadgate.exceptions import NotFoundError
from leadgate.web.auth import SignedIn
from leadgate.web.pages import signed_in
from leadgate.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
User = Annotated[SignedIn, Depends(signed_in)]
PAGE_SIZE = 50


@router.get("/accounts")
def accounts(
    request: Request,
    user: User,
    tier: str | None = Query(None, max_length=50),
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    """The ABM queue: accounts meeting the definition, newest activity first."""
    service = state(request)
    settings = service.settings
    definition = AbmDefinition(
        min_engaged=settings.abm_min_engaged, window_days=settings.abm_window_days
    )
    rollups = [group.name for group in service.model.rollup_groups]
    with service.reads.snapshot() as session:
        found = abm_queue(
            session,
            definition=definition,
            now=utcnow(),
            rollup_group=rollups[0] if rollups else None,
            tier=tier or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        tiers = account_tiers(session)
    return render(
        "accounts.html",
        user=user,
        definition=definition.describe(),
        rows=found.rows,
        total=found.total,
        tier=tier or "",
        tiers=tiers,
        rollup=rollups[0] if rollups else None,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
    )


@router.get("/accounts/{ref}")
def account_page(request: Request, ref: str, user: User) -> Response:
    """An account: facts, tier, owner, its leads the viewer sees, the roll-up scores
    and the engagement events per week (chart and table)."""
    service = state(request)
    model = service.model
    rollups = [group.name for group in model.rollup_groups]
    with service.reads.snapshot() as session:
        try:
            view = account_view(
                session, ref=ref, team=user.viewer.team, rollup_groups=rollups, now=utcnow()
            )
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
    chart = {
        "labels": [week.start.isoformat() for week in view.weeks],
        "events": [week.events for week in view.weeks],
    }
    return render(
        "account.html",
        user=user,
        view=view,
        account=view.account,
        groups=list(model.group_names),
        rollups=rollups,
        model=model.label,
        chart=chart,
    )
