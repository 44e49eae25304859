"""Signing in and out, the session cookie, CSRF tokens and login rate limits.

* The session cookie (``leadgate_session``) is HttpOnly, SameSite=Lax, Secure when
  the app is reached over https; it carries a random token, the database only its hash.
* Every form and state-changing request carries the session's CSRF token (a form
  field ``csrf_token`` or the ``X-CSRF-Token`` header); the login form, before any
  session, uses a double-submit cookie (``leadgate_login_csrf``).
* Failed logins are limited per address and per client: past the limit the answer
  is 429 with ``Retry-After``, whatever the password.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from fastapi import HTTPException, Request
from sqlalchemy import update
from starlette.responses import Response

from leadgate.api.deps import state
from leadgate.common.ids import utcnow
from leadgate.users.models import WebSession
from leadgate.users.service import Viewer, resolve_session, viewer_for

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "LoginLimiter",
    "SignedIn",
    "check_csrf",
    "current",
    "set_cookie",
]

SESSION_COOKIE = "leadgate_session"
LOGIN_CSRF_COOKIE = "leadgate_login_csrf"


@dataclass(frozen=True)
class SignedIn:
    """The request's user and session (the CSRF token lives on the session)."""

    viewer: Viewer
    csrf_token: str
    token: str


class LoginLimiter:
    """At most ``per_email`` failed logins per address and ``per_client`` per client
    address within ``window`` seconds (in memory: one ``serve`` process)."""

    def __init__(self, *, per_email: int = 5, per_client: int = 20, window: float = 900) -> None:
        self.per_email = per_email
        self.per_client = per_client
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._guard = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        while stamps and now - stamps[0] > self.window:
            stamps.popleft()
        return stamps

    def retry_after(self, *, email: str, client: str) -> int | None:
        """Seconds to wait when either limit is reached, else None."""
        now = time.monotonic()
        with self._guard:
            waits = []
            for key, limit in ((f"e:{email}", self.per_email), (f"c:{client}", self.per_client)):
                stamps = self._recent(key, now)
                if len(stamps) >= limit:
                    waits.append(int(self.window - (now - stamps[0])) + 1)
            return max(waits) if waits else None

    def failed(self, *, email: str, client: str) -> None:
        now = time.monotonic()
        with self._guard:
            if len(self._failures) > 100_000:
                self._failures.clear()
            for key in (f"e:{email}", f"c:{client}"):
                self._recent(key, now).append(now)

    def succeeded(self, *, email: str) -> None:
        with self._guard:
            self._failures.pop(f"e:{email}", None)


def secure_cookies(request: Request) -> bool:
    public = state(request).settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def current(request: Request) -> SignedIn | None:
    """The signed-in user of ``request``, or None. Touches the session (idle timeout)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    service = state(request)
    settings = service.settings
    now = utcnow()
    with service.reads.snapshot() as session:
        found = resolve_session(
            session, token=token, now=now, idle=timedelta(minutes=settings.session_idle_minutes)
        )
        if found is None:
            return None
        row, user = found
        signed_in = SignedIn(
            viewer=viewer_for(session, user), csrf_token=row.csrf_token, token=token
        )
        stale = now - row.last_seen_at > timedelta(minutes=1)
    if stale:  # the idle clock moves at most once a minute: fragments do not each write
        with service.write_lock, service.database.session() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.token_hash == row.token_hash)
                .values(last_seen_at=now)
            )
    return signed_in


def check_csrf(request: Request, expected: str, submitted: str | None) -> None:
    """403 unless the request carries the expected token (form field or header) and,
    when the browser says where it comes from, comes from this origin."""
    token = submitted or request.headers.get("x-csrf-token") or ""
    if not secrets.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        public = (state(request).settings.public_url or "").rstrip("/")
        if origin not in (own, public):
            raise HTTPException(403, f"request from another origin ({origin}) refused")
