"""The web app: sign-in, the sales queue (live), lead pages and settings, served by
``leadgate serve`` at ``/`` beside the APIs (server-rendered Jinja pages, one small
script of our own, front-end packages from npm; see docs/ui.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse, RedirectResponse, Response

from leadgate.web.accounts_pages import router as accounts_router
from leadgate.web.adjust_pages import router as adjust_router
from leadgate.web.leads_pages import router as leads_router
from leadgate.web.live import router as live_router
from leadgate.web.pages import LoginRequiredError, wants_json
from leadgate.web.render import ASSETS, render
from leadgate.web.sales import router as sales_router
from leadgate.web.security import ResponseHeaders
from leadgate.web.settings import router as settings_router
from leadgate.web.signin import router as signin_router
from leadgate.web.state import WebState

__all__ = ["mount_web"]

_PAGE_PREFIXES = ("/queue", "/leads", "/tasks", "/accounts", "/settings", "/stream")


def mount_web(app: FastAPI) -> None:
    """Add the pages, their assets and their error pages to the service's app."""
    app.state.web = WebState()
    app.include_router(signin_router)
    app.include_router(leads_router)  # before sales: /leads/new is not a lead's page
    app.include_router(sales_router)
    app.include_router(adjust_router)
    app.include_router(accounts_router)
    app.include_router(live_router)
    app.include_router(settings_router)
    app.mount("/static", StaticFiles(directory=Path(ASSETS)), name="static")
    app.add_middleware(ResponseHeaders)

    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, _: LoginRequiredError) -> Response:
        if wants_json(request) or request.url.path in ("/stream", "/queue/rows"):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    previous = app.exception_handlers.get(HTTPException)

    @app.exception_handler(HTTPException)
    async def _page_errors(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith((*_PAGE_PREFIXES, "/login", "/logout", "/reset")) and (
            not wants_json(request)
        ):
            return render(
                "message.html",
                status=exc.status_code,
                user=None,
                title=f"{exc.status_code}",
                message=str(exc.detail),
            )
        if previous is not None:
            return await previous(request, exc)  # type: ignore[no-any-return,misc]
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
