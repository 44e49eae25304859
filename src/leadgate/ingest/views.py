"""Thin routers: native event ingest (``/api/v1/events``) and the Segment-compatible
tracking API (``/v1/track|identify|group|page|batch``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field

from leadgate.api.deps import IngestKey, state, transaction
from leadgate.common.ids import utcnow
from leadgate.events.schemas import EventCreate
from leadgate.ingest.segment import SegmentResult, apply_segment
from leadgate.ingest.service import IngestResult, ingest_events

__all__ = ["router", "segment_router"]

router = APIRouter(prefix="/api/v1", tags=["events"])
segment_router = APIRouter(prefix="/v1", tags=["segment"])
MAX_BATCH = 1_000


class EventBatch(BaseModel):
    """Up to 1,000 events, stored all or nothing."""

    events: list[EventCreate] = Field(min_length=1, max_length=MAX_BATCH)


def _ingested(result: IngestResult) -> dict[str, Any]:
    return {
        "stored": len(result.stored),
        "duplicates": len(result.duplicates),
        "event_ids": result.stored + result.duplicates,
        "leads": [state.to_dict() for state in result.leads.values()],
        "qualified": [item.lead_id for item in result.qualified],
    }


def _ingest(request: Request, events: list[EventCreate]) -> dict[str, Any]:
    service = state(request)
    now = utcnow()
    with transaction(request) as db:
        result = ingest_events(db, events=events, model=service.model, now=now)
        service.handoff(db, [q.change for q in result.qualified if q.change is not None], now)
        return _ingested(result)


@router.post("/events", summary="Record one event and qualify its lead")
def post_event(event: EventCreate, request: Request, caller: IngestKey) -> dict[str, Any]:
    return _ingest(request, [event])


@router.post("/events/batch", summary="Record up to 1,000 events, all or nothing")
def post_events(batch: EventBatch, request: Request, caller: IngestKey) -> dict[str, Any]:
    return _ingest(request, batch.events)


def _segment(request: Request, messages: list[dict[str, Any]]) -> SegmentResult:
    service = state(request)
    now = utcnow()
    with transaction(request) as db:
        result = apply_segment(
            db, messages=messages, model=service.model, names=service.event_names, now=now
        )
        changes = [q.change for q in result.ingest.qualified if q.change is not None]
        service.handoff(db, changes, now)
        return result


def _single(kind: str, request: Request, body: dict[str, Any]) -> dict[str, Any]:
    result = _segment(request, [{**body, "type": kind}])
    if result.rejected:
        raise HTTPException(400, result.rejected[0]["error"])
    return {"success": True}


Message = Annotated[dict[str, Any], Body()]


@segment_router.post("/track")
def track(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return _single("track", request, body)


@segment_router.post("/identify")
def identify(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return _single("identify", request, body)


@segment_router.post("/group")
def group(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return _single("group", request, body)


@segment_router.post("/page")
def page(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return _single("page", request, body)


@segment_router.post("/batch", summary="Segment batch: each message applied or reported")
def batch(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    messages = body.get("batch")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise HTTPException(400, 'batch: expected {"batch": [messages]}')
    if len(messages) > MAX_BATCH:
        raise HTTPException(400, f"batch: at most {MAX_BATCH} messages per request")
    context = body.get("context") if isinstance(body.get("context"), dict) else None
    if context:
        messages = [{"context": context, **message} for message in messages]
    result = _segment(request, messages)
    return {"success": True, "accepted": result.accepted, "rejected": result.rejected}
