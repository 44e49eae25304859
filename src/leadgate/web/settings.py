"""The admin settings (``/settings``): reps and their absences, the handoff
playbooks and their versions, webhooks, API keys and users. Admins only: every
other role gets 403 on every route. Each change is one transaction with its audit
entry, the admin as the actor."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from leadgate.web.settings_common import Admin
from leadgate.web.settings_keys import router as keys_router
from leadgate.web.settings_playbooks import router as playbooks_router
from leadgate.web.settings_reps import router as reps_router
from leadgate.web.settings_users import router as users_router
from leadgate.web.settings_webhooks import router as webhooks_router

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/settings")
def settings_home(user: Admin) -> Response:
    """The first settings screen."""
    return RedirectResponse("/settings/reps", status_code=303)


for _section in (reps_router, playbooks_router, webhooks_router, keys_router, users_router):
    router.include_router(_section)
