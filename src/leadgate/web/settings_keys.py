"""Settings, API keys: the list (never a secret), creating a key (scope, optionally
the user it acts as) with its secret shown once, and revoking one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.api.deps import state
from leadgate.audit import record
from leadgate.common.ids import utcnow
from leadgate.keys.models import ApiKey
from leadgate.keys.service import SCOPES, create_key, list_keys, revoke_key
from leadgate.users.models import User
from leadgate.web.pages import act
from leadgate.web.settings_common import Admin, act_and_show, page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BACK = "/settings/keys"
Csrf = Annotated[str | None, Form(max_length=200)]


def _key_detail(key: ApiKey, user_email: str | None) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "scope": key.scope,
        "prefix": key.prefix,
        "user": user_email,
    }


@router.get("/settings/keys")
def keys_page(
    request: Request, user: Admin, error: str | None = Query(None, max_length=2000)
) -> Response:
    """Every key: name, scope, prefix, user, created and revoked (never the secret)."""
    with state(request).reads.snapshot() as session:
        keys = list(list_keys(session))
        users = list(session.scalars(select(User).order_by(User.email)))
    emails = {row.id: row.email for row in users}
    return page(
        "settings_keys.html",
        user,
        "keys",
        keys=[(key, emails.get(key.user_id) if key.user_id else None) for key in keys],
        users=[row for row in users if row.disabled_at is None],
        scopes=SCOPES,
        error=error,
    )


@router.post("/settings/keys")
def create(
    request: Request,
    user: Admin,
    name: Annotated[str, Form(max_length=200)],
    scope: Annotated[str, Form(max_length=32)],
    user_id: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Csrf = None,
) -> Response:
    """A new key; its secret is on this answer only (only a hash is stored)."""

    def work(session: Session) -> tuple[ApiKey, str, str | None]:
        now = utcnow()
        key, secret = create_key(
            session, name=name, scope=scope, now=now, user_id=user_id.strip() or None
        )
        owner = session.get(User, key.user_id) if key.user_id else None
        email = owner.email if owner is not None else None
        detail = _key_detail(key, email)
        record(session, actor=user.viewer.actor, action="key.created", at=now, detail=detail)
        return key, secret, email

    def show(made: tuple[ApiKey, str, str | None]) -> Response:
        key, secret, email = made
        return page(
            "settings_secret.html",
            user,
            "keys",
            title="API key created",
            what=f"{key.name}: scope {key.scope}" + (f", acting as {email}" if email else ""),
            label="Key",
            secret=secret,
            usage="Send it as Authorization: Bearer KEY (or as the Segment write key).",
            back=BACK,
        )

    return act_and_show(request, user, csrf_token, BACK, work, show)


@router.post("/settings/keys/{key_id}/revoke")
def revoke(request: Request, key_id: str, user: Admin, csrf_token: Csrf = None) -> Response:
    """Revoke a key: it stops working at once."""
    service = state(request)

    def work(session: Session) -> ApiKey:
        key = revoke_key(session, key_id=key_id, now=utcnow())
        owner = session.get(User, key.user_id) if key.user_id else None
        detail = _key_detail(key, owner.email if owner is not None else None)
        record(session, actor=user.viewer.actor, action="key.revoked", at=utcnow(), detail=detail)
        return key

    response = act(request, user, csrf_token, BACK, work)
    service.keys.forget([key_id])  # the tracking endpoints' cache of checked keys
    return response
