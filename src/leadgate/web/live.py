"""The live channel: server-sent events telling open pages that something changed.

A page opens ``GET /stream``. Changes are published by :mod:`leadgate.common.changes`
when their transaction commits; each open stream gets them through an asyncio
queue (handed over thread-safely from the committing thread), waits a moment to
gather a burst (one ingest group can qualify many leads), and sends one
``event: queue`` naming the kinds of change. The page then fetches its rows again.
A comment line every 15 s keeps proxies from closing an idle stream, and the
stream ends when the user's session does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from leadgate.common.changes import FEED, Change
from leadgate.web.auth import current
from leadgate.web.pages import LoginRequiredError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
HEARTBEAT_SECONDS = 15.0
GATHER_SECONDS = 0.1


async def _events(request: Request) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Sequence[Change]] = asyncio.Queue()

    def deliver(changes: Sequence[Change]) -> None:
        loop.call_soon_threadsafe(inbox.put_nowait, changes)

    unsubscribe = FEED.subscribe(deliver)
    sequence = 0
    try:
        yield b"retry: 2000\n: connected\n\n"
        while True:
            try:
                first = await asyncio.wait_for(inbox.get(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                if await run_in_threadpool(current, request) is None:
                    return  # signed out, expired or disabled: the stream ends with the session
                yield b": heartbeat\n\n"
                continue
            await asyncio.sleep(GATHER_SECONDS)
            kinds = {change.kind for change in first}
            while not inbox.empty():
                kinds.update(change.kind for change in inbox.get_nowait())
            sequence += 1
            data = json.dumps({"kinds": sorted(kinds), "seq": sequence})
            yield f"id: {sequence}\nevent: queue\ndata: {data}\n\n".encode()
    finally:
        unsubscribe()


@router.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    """Server-sent events for the signed-in user's open pages (401 without a session)."""
    # the session check reads (and may touch) the database: off the event loop
    if await run_in_threadpool(current, request) is None:
        raise LoginRequiredError
    return StreamingResponse(
        _events(request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
