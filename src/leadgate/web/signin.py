"""Sign in, sign out and password reset pages."""

from __future__ import annotations

import logging
import secrets
import smtplib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from leadgate.api.deps import state
from leadgate.audit import record
from leadgate.common.ids import utcnow
from leadgate.exceptions import LeadgateError
from leadgate.mail import MailConfig, send_mail
from leadgate.users.models import User
from leadgate.users.service import (
    check_password,
    end_session,
    reset_password,
    resolve_session,
    start_session,
)
from leadgate.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, check_csrf, current, set_cookie
from leadgate.web.render import render
from leadgate.web.state import web_state

__all__ = ["router"]

log = logging.getLogger("leadgate.web")
router = APIRouter(include_in_schema=False)
RESET_LIFETIME = timedelta(hours=1)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//evil`` or ``https://evil``) after login."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/queue"


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    status: int = 200,
    email: str = "",
    retry_after: int | None = None,
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        "login.html",
        status=status,
        csrf_token=token,
        error=error,
        email=email,
        next=_safe_next(request.query_params.get("next")),
        user=None,
        mail=state(request).settings.smtp_url is not None,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("/")
def home(request: Request) -> Response:
    """The queue for a signed-in user; the login form for anyone else."""
    if current(request) is not None:
        return RedirectResponse("/queue", status_code=303)
    return _login_page(request)


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/queue",
) -> Response:
    check_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE) or "\0", csrf_token)
    service = state(request)
    address = email.strip().lower()
    client = request.client.host if request.client else "unknown"
    wait = web_state(request).limiter.retry_after(email=address, client=client)
    if wait is not None:
        return _login_page(
            request,
            error=f"Too many failed sign-ins: try again in {wait // 60 + 1} minutes.",
            status=429,
            email=email,
            retry_after=wait,
        )
    settings = service.settings
    now = utcnow()
    with service.write_lock, service.database.session() as session:
        user = check_password(session, email=address, password=password)
        if user is None:
            token = None
        else:
            _, token = start_session(
                session, user=user, now=now, lifetime=timedelta(hours=settings.session_hours)
            )
            record(
                session,
                actor=f"user:{user.email}",
                action="user.signed_in",
                at=now,
                detail={"client": client},
            )
    if token is None:
        web_state(request).limiter.failed(email=address, client=client)
        return _login_page(request, error="Wrong email or password.", status=401, email=email)
    web_state(request).limiter.succeeded(email=address)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, max_age=int(settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    signed_in = current(request)
    if signed_in is not None:
        check_csrf(request, signed_in.csrf_token, csrf_token)
        service = state(request)
        with service.write_lock, service.database.session() as session:
            end_session(session, token=signed_in.token)
            record(session, actor=signed_in.viewer.actor, action="user.signed_out", at=utcnow())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/reset")
def reset_form(request: Request) -> Response:
    return _reset_page(request)


def _reset_page(request: Request, *, sent: bool = False, status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        "reset.html",
        status=status,
        csrf_token=token,
        sent=sent,
        mail=state(request).settings.smtp_url is not None,
        user=None,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/reset")
async def request_reset(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Email a one-hour link to set a new password. The answer is the same whether
    the address is known or not (no way to find out who has an account)."""
    check_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE) or "\0", csrf_token)
    service = state(request)
    settings = service.settings
    if settings.smtp_url is None:
        raise HTTPException(404, "password reset by email needs LEADGATE_SMTP_URL")
    address = email.strip().lower()
    client = request.client.host if request.client else "unknown"
    if web_state(request).limiter.retry_after(email=address, client=client) is not None:
        return _reset_page(request, sent=True)
    web_state(request).limiter.failed(email=address, client=client)  # resets count like failures
    await run_in_threadpool(_send_reset, request, address)
    return _reset_page(request, sent=True)


def _send_reset(request: Request, address: str) -> None:
    service = state(request)
    settings = service.settings
    now = utcnow()
    with service.write_lock, service.database.session() as session:
        user = session.scalar(select(User).where(User.email == address))
        if user is None or user.disabled_at is not None:
            return
        _, token = start_session(
            session, user=user, now=now, lifetime=RESET_LIFETIME, purpose="reset"
        )
        name = user.name
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    assert settings.smtp_url is not None
    config = MailConfig.from_url(settings.smtp_url, sender=settings.mail_from)
    body = (
        f"Hello {name},\n\nsomeone (we hope you) asked to set a new leadgate password for "
        f"{address}. Open this link within the hour to choose one:\n\n{base}/reset/{token}\n\n"
        "If it was not you, ignore this email: your password stays as it is.\n"
    )
    try:
        send_mail(config, to=address, subject="Set a new leadgate password", body=body)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("password reset email to %s not sent: %s (%r)", address, exc, config)


@router.get("/reset/{token}")
def new_password_form(request: Request, token: str) -> Response:
    return _new_password_page(request, token)


def _new_password_page(
    request: Request, token: str, *, error: str | None = None, status: int = 200
) -> Response:
    service = state(request)
    with service.reads.snapshot() as session:
        found = resolve_session(
            session, token=token, now=utcnow(), idle=RESET_LIFETIME, purpose="reset"
        )
    if found is None:
        return render(
            "message.html",
            status=404,
            user=None,
            title="Link expired",
            message="This link is unknown, used or expired: ask for a new one.",
        )
    csrf = secrets.token_urlsafe(32)
    response = render(
        "new_password.html", status=status, user=None, csrf_token=csrf, token=token, error=error
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    return response


@router.post("/reset/{token}")
def set_new_password(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE) or "\0", csrf_token)
    service = state(request)
    now = utcnow()
    try:
        with service.write_lock, service.database.session() as session:
            found = resolve_session(
                session, token=token, now=now, idle=RESET_LIFETIME, purpose="reset"
            )
            if found is None:
                return _new_password_page(request, token)
            row, user = found
            reset_password(session, ref=user.id, password=password, now=now)
            row.ended = True
    except LeadgateError as exc:
        return _new_password_page(request, token, error=str(exc), status=422)
    return render(
        "message.html",
        user=None,
        title="Password set",
        message="Your new password is set: sign in with it.",
        link="/login",
    )
