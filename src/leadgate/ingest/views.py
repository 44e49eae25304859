"""Thin routers: native event ingest (``/api/v1/events``) and the Segment-compatible
tracking API (``/v1/track|identify|group|page|screen|alias|batch``, and the short
paths Segment's browser library posts to: ``/v1/t|i|g|p|s|a|b``)."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from leadgate.api.deps import Caller, authorize, state
from leadgate.common.ids import utcnow
from leadgate.events.schemas import EventCreate
from leadgate.ingest.browser import correct_skew, origin_refusal
from leadgate.ingest.schemas import IngestAnswer, SegmentAck, SegmentBatchAnswer
from leadgate.ingest.segment import SegmentResult
from leadgate.ingest.service import IngestResult
from leadgate.ingest.writer import KeyRevokedError
from leadgate.keys.service import Scope

__all__ = ["beacon_router", "router", "segment_router"]

router = APIRouter(prefix="/api/v1", tags=["events"])
segment_router = APIRouter(prefix="/v1", tags=["segment"])
#: RudderStack's ``useBeacon`` transport posts its batches here
beacon_router = APIRouter(prefix="/beacon/v1", tags=["segment"])
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
        return await state(request).writer.segment(
            messages, key_id=caller.key_id, public=caller.origins is not None
        )
    except KeyRevokedError:
        raise HTTPException(401, "API key revoked", headers={"WWW-Authenticate": "Basic"}) from None


async def _tracking_body(
    request: Request, query_key: bool = False
) -> tuple[dict[str, Any], Caller]:
    """The JSON object a tracking call posted (``application/json`` or, from browser
    SDKs, ``text/plain``) and its checked caller: the key from ``Authorization``, the
    body's ``writeKey`` (or, for a beacon, ``?writeKey=``), the page's origin allowed
    for it, a public key within its rate."""
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "body: not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body: expected a JSON object")
    write_key = body.pop("writeKey", None)
    if query_key and write_key is None:
        write_key = request.query_params.get("writeKey")
    caller = await authorize(
        request,
        Scope.INGEST,
        secret=write_key if isinstance(write_key, str) else None,
        public=True,
    )
    service = state(request)
    origin = request.headers.get("origin")
    refused = origin_refusal(
        None if origin is None else origin.lower(), caller.origins, service.settings.cors_origins
    )
    if refused is not None:
        raise HTTPException(403, refused)
    if caller.origins is not None:
        client = request.client.host if request.client is not None else "-"
        wait = service.public_rate.wait(caller.key_id, client)
        if wait > 0:
            raise HTTPException(
                429,
                "too many calls from this client with this key",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
    return body, caller


def _public_check(caller: Caller, message: dict[str, Any]) -> str | None:
    """Why a public key's message is refused: it must name its visitor (browser SDKs
    always send an ``anonymousId``), so no answer depends on which leads exist."""
    if caller.origins is None:
        return None
    anonymous = message.get("anonymousId")
    if not isinstance(anonymous, str) or not anonymous.strip():
        return "anonymousId: required with a public key"
    return None


async def _single(kind: str, request: Request) -> dict[str, Any]:
    body, caller = await _tracking_body(request)
    message = correct_skew({**body, "type": kind}, None, utcnow())
    refused = _public_check(caller, message)
    if refused is not None:
        raise HTTPException(400, f"{kind}: {refused}")
    result = await _segment(request, caller, [message])
    if result.rejected:
        raise HTTPException(400, result.rejected[0]["error"])
    return {"success": True}


def _tracked(kind: str, summary: str) -> Any:
    async def endpoint(request: Request) -> dict[str, Any]:
        return await _single(kind, request)

    endpoint.__doc__ = summary
    return endpoint


_MESSAGE_BODY = _documented({"type": "object", "additionalProperties": True})
#: Segment's spec paths and the short ones its browser library posts to
_KINDS = {
    "track": "t",
    "identify": "i",
    "group": "g",
    "page": "p",
    "screen": "s",
    "alias": "a",
}
for _kind, _short in _KINDS.items():
    for _path in (f"/{_kind}", f"/{_short}"):
        segment_router.add_api_route(
            _path,
            _tracked(_kind, f"Segment {_kind}: JSON or text/plain, key in a header or writeKey"),
            methods=["POST"],
            response_model=SegmentAck,
            summary=f"Segment {_kind}" + ("" if _path == f"/{_kind}" else " (browser path)"),
            openapi_extra=_MESSAGE_BODY,
            name=f"segment_{_kind}" + ("" if _path == f"/{_kind}" else "_short"),
        )


async def _batch(request: Request, query_key: bool = False) -> dict[str, Any]:
    body, caller = await _tracking_body(request, query_key)
    messages = body.get("batch")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise HTTPException(400, 'batch: expected {"batch": [messages]}')
    if len(messages) > MAX_BATCH:
        raise HTTPException(400, f"batch: at most {MAX_BATCH} messages per request")
    context = body.get("context") if isinstance(body.get("context"), dict) else None
    if context:
        messages = [{"context": context, **message} for message in messages]
    now = utcnow()
    messages = [correct_skew(message, body.get("sentAt"), now) for message in messages]
    refused = [(index, _public_check(caller, m)) for index, m in enumerate(messages)]
    rejected = [{"index": index, "error": why} for index, why in refused if why is not None]
    kept = [index for index, why in refused if why is None]
    result = await _segment(request, caller, [messages[index] for index in kept])
    for item in result.rejected:  # indexes into the request's messages
        item["index"] = kept[item["index"]]
    return {
        "success": True,
        "accepted": result.accepted,
        "parked": result.parked,
        "rejected": sorted([*rejected, *result.rejected], key=lambda item: item["index"]),
        "screened": {str(reason): count for reason, count in result.screened.items()},
    }


for _path in ("/batch", "/b"):
    segment_router.add_api_route(
        _path,
        _batch,
        methods=["POST"],
        response_model=SegmentBatchAnswer,
        summary="Segment batch: each message applied or reported"
        + ("" if _path == "/batch" else " (browser path)"),
        openapi_extra=_documented({"type": "object", "required": ["batch"]}),
        name="segment_batch" + ("" if _path == "/batch" else "_short"),
    )


@beacon_router.post(
    "/batch",
    response_model=SegmentBatchAnswer,
    summary="RudderStack's beacon batch (navigator.sendBeacon, key in ?writeKey=)",
    openapi_extra=_documented({"type": "object", "required": ["batch"]}),
)
async def beacon_batch(request: Request) -> dict[str, Any]:
    return await _batch(request, query_key=True)
