"""Thin routers: native event ingest (``/api/v1/events``) and the Segment-compatible
tracking API (``/v1/track|identify|group|page|batch``)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from leadgate.api.deps import Caller, IngestKey, authorize, state
from leadgate.events.schemas import EventCreate
from leadgate.ingest.schemas import IngestAnswer, SegmentAck, SegmentBatchAnswer
from leadgate.ingest.segment import SegmentResult
from leadgate.ingest.service import IngestResult
from leadgate.ingest.writer import KeyRevokedError
from leadgate.keys.service import Scope

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


async def _ingest(request: Request, caller: Caller, events: list[EventCreate]) -> Response:
    try:
        result = await state(request).writer.events(events, key_id=caller.key_id)
    except KeyRevokedError:
        raise HTTPException(
            401, "API key revoked", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    return Response(orjson.dumps(_ingested(result)), media_type="application/json")


_Body = TypeVar("_Body", bound=BaseModel)


async def _parsed(request: Request, model: type[_Body]) -> _Body:
    """The JSON body as ``model``; a bad one is the usual 422 with ``body`` paths.

    The two hottest endpoints read their body and key themselves instead of through
    FastAPI's dependency solver, which costs more than the rest of the request.
    """
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=raw) from None


def _documented(schema: dict[str, Any]) -> dict[str, Any]:
    """The request body for OpenAPI (the endpoint parses it itself)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_EVENT_SCHEMA = EventCreate.model_json_schema()
_BATCH_SCHEMA = {
    "title": "EventBatch",
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _EVENT_SCHEMA}
    },
}


@router.post(
    "/events",
    summary="Record one event and qualify its lead",
    openapi_extra=_documented(_EVENT_SCHEMA),
    responses={200: {"model": IngestAnswer}},
)
async def post_event(request: Request) -> Response:
    caller = await authorize(request, Scope.INGEST)
    return await _ingest(request, caller, [await _parsed(request, EventCreate)])


@router.post(
    "/events/batch",
    summary="Record up to 1,000 events, all or nothing",
    openapi_extra=_documented(_BATCH_SCHEMA),
    responses={200: {"model": IngestAnswer}},
)
async def post_events(request: Request) -> Response:
    caller = await authorize(request, Scope.INGEST)
    return await _ingest(request, caller, (await _parsed(request, EventBatch)).events)


async def _segment(
    request: Request, caller: Caller, messages: list[dict[str, Any]]
) -> SegmentResult:
    try:
        return await state(request).writer.segment(messages, key_id=caller.key_id)
    except KeyRevokedError:
        raise HTTPException(401, "API key revoked", headers={"WWW-Authenticate": "Basic"}) from None


async def _single(
    kind: str, request: Request, caller: Caller, body: dict[str, Any]
) -> dict[str, Any]:
    result = await _segment(request, caller, [{**body, "type": kind}])
    if result.rejected:
        raise HTTPException(400, result.rejected[0]["error"])
    return {"success": True}


Message = Annotated[dict[str, Any], Body()]


@segment_router.post("/track", response_model=SegmentAck)
async def track(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return await _single("track", request, caller, body)


@segment_router.post("/identify", response_model=SegmentAck)
async def identify(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return await _single("identify", request, caller, body)


@segment_router.post("/group", response_model=SegmentAck)
async def group(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return await _single("group", request, caller, body)


@segment_router.post("/page", response_model=SegmentAck)
async def page(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    return await _single("page", request, caller, body)


@segment_router.post(
    "/batch",
    response_model=SegmentBatchAnswer,
    summary="Segment batch: each message applied or reported",
)
async def batch(body: Message, request: Request, caller: IngestKey) -> dict[str, Any]:
    messages = body.get("batch")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise HTTPException(400, 'batch: expected {"batch": [messages]}')
    if len(messages) > MAX_BATCH:
        raise HTTPException(400, f"batch: at most {MAX_BATCH} messages per request")
    context = body.get("context") if isinstance(body.get("context"), dict) else None
    if context:
        messages = [{"context": context, **message} for message in messages]
    result = await _segment(request, caller, messages)
    return {
        "success": True,
        "accepted": result.accepted,
        "parked": result.parked,
        "rejected": result.rejected,
    }
