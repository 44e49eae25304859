"""Shared plumbing of the signed-in pages: who is asking, and answering an action
(JSON for the page's script, a redirect back for a plain form post)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from leadgate.api.deps import state
from leadgate.exceptions import (
    LeadgateError,
    NotFoundError,
    PermissionDeniedError,
    TransitionError,
)
from leadgate.web.auth import SignedIn, check_csrf, current

__all__ = ["LoginRequiredError", "act", "signed_in", "wants_json"]

T = TypeVar("T")


class LoginRequiredError(Exception):
    """No valid session: pages redirect to the login form, fragments answer 401."""


def signed_in(request: Request) -> SignedIn:
    """The request's user (a dependency of every signed-in route)."""
    found = current(request)
    if found is None:
        raise LoginRequiredError
    return found


def wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


def _back(request: Request, back: str | None) -> str:
    if back and back.startswith("/") and not back.startswith(("//", "/\\")):
        return back
    return "/queue"


def act(
    request: Request,
    user: SignedIn,
    csrf_token: str | None,
    back: str | None,
    work: Callable[[Any], T],
    done: Callable[[T], dict[str, Any]] | None = None,
) -> Response:
    """Check the CSRF token, run ``work(session)`` in one transaction (the change, its
    history and its messages commit together), and answer: 200 JSON to the page's
    script, else a redirect back. A refused action is 403, 404, 409 or 422 with one
    message (never a stack trace); nothing it began is kept."""
    check_csrf(request, user.csrf_token, csrf_token)
    service = state(request)
    try:
        with service.write_lock, service.database.session() as session:
            result = work(session)
            payload = done(result) if done is not None else {}
        service.outbox_ready.set()
    except PermissionDeniedError as exc:
        return _refused(request, back, 403, str(exc))
    except NotFoundError as exc:
        return _refused(request, back, 404, str(exc))
    except LeadgateError as exc:
        status = 409 if isinstance(exc, TransitionError) else 422
        return _refused(request, back, status, str(exc))
    if wants_json(request):
        return JSONResponse({"ok": True, **payload})
    return RedirectResponse(_back(request, back), status_code=303)


def _refused(request: Request, back: str | None, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": False, "detail": message}, status_code=status)
    if status in (403, 404):
        raise HTTPException(status, message)
    target = _back(request, back)
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode({'error': message})}", status_code=303)
