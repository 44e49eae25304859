"""Build the FastAPI application: routers, error mapping, body-size limit."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate.accounts.views import router as accounts_router
from leadgate.actions.playbooks import Playbooks, default_playbooks
from leadgate.api.background import Background
from leadgate.api.deps import ServiceState
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.exceptions import (
    BusyError,
    LeadgateError,
    ModelError,
    NotFoundError,
    PermissionDeniedError,
    TransitionError,
)
from leadgate.ingest.browser import TrackingCors
from leadgate.ingest.segment import DEFAULT_EVENT_NAMES
from leadgate.ingest.views import beacon_router, segment_router
from leadgate.ingest.views import router as ingest_router
from leadgate.leads.views import router as leads_router
from leadgate.reports.views import router as reports_router
from leadgate.reps.views import router as reps_router
from leadgate.scoring.nodes import ScoringModel
from leadgate.tasks.views import router as tasks_router
from leadgate.web import mount_web
from leadgate.webhooks.views import router as webhooks_router

__all__ = ["create_app"]


class BodyLimit:
    """Answer 413 to a request body over ``limit`` bytes, declared or streamed, and
    inflate gzip bodies (``Content-Encoding: gzip``, as some tracking SDKs send).

    A declared ``Content-Length`` over the limit is refused before reading; a
    body without one (chunked) is read up to the limit first, then handed on. A
    gzip body is inflated up to the limit too (a small bomb cannot expand past
    it); a corrupt one is a 400.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        gzipped = False
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"content-encoding" and value.strip().lower() == b"gzip":
                gzipped = True
        if declared is not None and declared > self.limit:
            await _answer(413, f"request body larger than {self.limit:,} bytes", send)
            return
        if declared is not None and not gzipped:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _answer(413, f"request body larger than {self.limit:,} bytes", send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if gzipped:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            try:
                raw = inflater.decompress(raw, self.limit + 1)
            except zlib.error as exc:
                await _answer(400, f"request body is not valid gzip: {exc}", send)
                return
            if len(raw) > self.limit or inflater.unconsumed_tail:
                await _answer(413, f"request body larger than {self.limit:,} bytes", send)
                return
            headers = [
                (name, value)
                for name, value in scope.get("headers", [])
                if name not in (b"content-encoding", b"content-length")
            ]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(raw)).encode())]}
        body = {"type": "http.request", "body": raw, "more_body": False}
        await self.app(scope, _replay([body], receive), send)


def _replay(messages: list[Message], then: Receive) -> Receive:
    """The body already read, then the connection's own messages: a streaming
    response listening for the client's disconnect must hear the real one."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive


async def _answer(status: int, detail: str, send: Send) -> None:
    response = JSONResponse({"detail": detail}, status_code=status)
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def create_app(
    *,
    settings: Settings,
    database: Database,
    model: ScoringModel,
    playbooks: Playbooks | None = None,
    background: bool = True,
) -> FastAPI:
    """The service for ``database`` scoring with ``model`` and handing off by ``playbooks``.

    With ``background`` the webhook delivery worker and the scheduler run while
    the application is up (its lifespan).
    """
    service = ServiceState(
        settings=settings,
        database=database,
        model=model,
        event_names={**DEFAULT_EVENT_NAMES, **settings.segment_event_names},
        playbooks=playbooks or default_playbooks(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        workers = Background(service) if background else None
        if workers is not None:
            workers.start()
        try:
            yield
        finally:
            if workers is not None:
                workers.stop()
            for pool in (service.reads, service.writes):
                if pool is not service.database:
                    pool.dispose()

    app = FastAPI(
        title="leadgate",
        version="0.1.0",
        description="Lead qualification you can read, test on history and explain.",
        lifespan=lifespan,
        # OpenTelemetry spans and metrics per request, off unless asked for: they
        # cost more than the tracking request itself
        telemetry=(
            {}
            if settings.telemetry
            else {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
        ),
    )
    app.state.leadgate = service
    # the tracking endpoints first: routes are matched in order
    app.include_router(ingest_router)
    app.include_router(segment_router)
    app.include_router(beacon_router)
    app.include_router(leads_router)
    app.include_router(accounts_router)
    app.include_router(reps_router)
    app.include_router(tasks_router)
    app.include_router(webhooks_router)
    app.include_router(reports_router)

    @app.exception_handler(BusyError)
    async def _busy(_: Request, exc: BusyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(TransitionError)
    async def _transition(_: Request, exc: TransitionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "allowed": list(exc.allowed)}, status_code=409)

    @app.exception_handler(PermissionDeniedError)
    async def _denied(_: Request, exc: PermissionDeniedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(ModelError)
    async def _model(_: Request, exc: ModelError) -> JSONResponse:
        return JSONResponse({"detail": exc.render(), "error": exc.as_dict()}, status_code=422)

    @app.exception_handler(LeadgateError)
    async def _leadgate(_: Request, exc: LeadgateError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    mount_web(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    # outermost: even a refusal by the layers below carries CORS for an allowed site
    app.add_middleware(TrackingCors, origins=lambda: app.state.leadgate.allowed_origins)
    return app
