"""What every settings screen shares: admins only (403 for every other role, on
reads and writes), the sub-navigation, and answering a change with a page shown
once (a new secret) instead of a redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.web.auth import SignedIn
from leadgate.web.pages import act, signed_in
from leadgate.web.render import render

__all__ = [
    "SECTIONS",
    "Admin",
    "act_and_show",
    "admin_only",
    "found",
    "invalid",
    "on_commit",
    "page",
]

T = TypeVar("T")

#: The settings screens: (path under /settings, label).
SECTIONS = (
    ("reps", "Reps"),
    ("playbooks", "Playbooks"),
    ("webhooks", "Webhooks"),
    ("keys", "API keys"),
    ("users", "Users"),
)


def admin_only(request: Request) -> SignedIn:
    """The signed-in admin (403 for any other role: the settings are theirs alone)."""
    user = signed_in(request)
    if not user.viewer.is_admin:
        raise HTTPException(403, "the settings are for admins only")
    return user


Admin = Annotated[SignedIn, Depends(admin_only)]


def page(name: str, user: SignedIn, section: str, *, status: int = 200, **context: Any) -> Response:
    """A settings page (never cached: some show what only an admin may see)."""
    context.setdefault("error", None)
    response = render(name, status=status, user=user, section=section, sections=SECTIONS, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def found(lookup: Callable[..., T], session: Session, **keys: Any) -> T:
    """``lookup(session, **keys)`` for a page: a missing record is the 404 page."""
    try:
        return lookup(session, **keys)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``session``'s transaction commits (never on a rollback)."""
    event.listen(session, "after_commit", lambda _: callback(), once=True)


def invalid(exc: ValidationError) -> LeadgateError:
    """A form's first validation error as one message (``url: must start with http://``)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return LeadgateError(f"{where}: {message}" if where else message)


def act_and_show(
    request: Request,
    user: SignedIn,
    csrf_token: str | None,
    back: str,
    work: Callable[[Session], T],
    show: Callable[[T], Response],
) -> Response:
    """:func:`leadgate.web.pages.act`, answering a committed change with ``show(result)``
    (a page shown this once, such as a new secret) rather than a redirect back."""
    shown: list[Response] = []

    def run(session: Session) -> T:
        result = work(session)
        answer = show(result)
        on_commit(session, lambda: shown.append(answer))
        return result

    response = act(request, user, csrf_token, back, run)
    return shown[0] if shown else response
