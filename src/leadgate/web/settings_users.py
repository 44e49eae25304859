"""Settings, users: the list, creating a user (role, rep record, time zone, initial
password), disabling one (their sessions end), and setting a new password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.api.deps import state
from leadgate.audit import record
from leadgate.common.ids import utcnow
from leadgate.exceptions import LeadgateError
from leadgate.reps.models import Rep
from leadgate.users.models import User
from leadgate.users.service import ROLES, create_user, disable_user, list_users, reset_password
from leadgate.web.pages import act
from leadgate.web.settings_common import Admin, page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BACK = "/settings/users"
Csrf = Annotated[str | None, Form(max_length=200)]
Password = Annotated[str, Form(max_length=1000)]


@router.get("/settings/users")
def users_page(
    request: Request, user: Admin, error: str | None = Query(None, max_length=2000)
) -> Response:
    """Every user (never a password hash), with the forms to add, disable and reset."""
    with state(request).reads.snapshot() as session:
        users = list(list_users(session))
        reps = list(session.scalars(select(Rep).order_by(Rep.name, Rep.email)))
    return page(
        "settings_users.html", user, "users", users=users, reps=reps, roles=ROLES, error=error
    )


@router.post("/settings/users")
def create(
    request: Request,
    user: Admin,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=16)],
    password: Password,
    rep: Annotated[str, Form(max_length=320)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "UTC",
    csrf_token: Csrf = None,
) -> Response:
    """A user who can sign in at once with the initial password."""

    def work(session: Session) -> User:
        now = utcnow()
        made = create_user(
            session,
            email=email,
            name=name,
            role=role,
            password=password,
            now=now,
            rep=rep.strip() or None,
            time_zone=time_zone.strip() or "UTC",
        )
        detail = {"email": made.email, "role": made.role, "rep": made.rep_email}
        record(session, actor=user.viewer.actor, action="user.created", at=now, detail=detail)
        return made

    return act(request, user, csrf_token, BACK, work)


@router.post("/settings/users/{user_id}/disable")
def disable(request: Request, user_id: str, user: Admin, csrf_token: Csrf = None) -> Response:
    """The user can no longer sign in; their sessions (and keys) stop working now."""

    def work(session: Session) -> User:
        if user_id == user.viewer.user_id:
            raise LeadgateError("you cannot disable yourself: ask another admin")
        now = utcnow()
        gone = disable_user(session, ref=user_id, now=now)
        detail = {"email": gone.email}
        record(session, actor=user.viewer.actor, action="user.disabled", at=now, detail=detail)
        return gone

    return act(request, user, csrf_token, BACK, work)


@router.post("/settings/users/{user_id}/password")
def set_password(
    request: Request, user_id: str, user: Admin, password: Password, csrf_token: Csrf = None
) -> Response:
    """A new password; the user's sessions end (they sign in with it)."""

    def work(session: Session) -> User:
        now = utcnow()
        changed = reset_password(session, ref=user_id, password=password, now=now)
        detail = {"email": changed.email}
        record(
            session, actor=user.viewer.actor, action="user.password_reset", at=now, detail=detail
        )
        return changed

    return act(request, user, csrf_token, BACK, work)
