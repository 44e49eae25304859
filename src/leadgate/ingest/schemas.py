"""What the ingest endpoints answer (declared in the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["IngestAnswer", "LeadStateOut", "SegmentAck", "SegmentBatchAnswer"]


class LeadStateOut(BaseModel):
    """A lead's stage and scores right after the request's events."""

    lead_id: str
    stage: str
    scores: dict[str, float]
    grade: str | None
    mql: bool


class IngestAnswer(BaseModel):
    """What a request stored (``event_ids`` in request order, duplicates included),
    each touched lead's state, and the leads it moved to MQL."""

    stored: int
    duplicates: int
    event_ids: list[str]
    leads: list[LeadStateOut]
    qualified: list[str]


class SegmentAck(BaseModel):
    success: bool


class SegmentBatchAnswer(BaseModel):
    """Each message applied on its own: how many were stored, kept for an anonymous
    visitor (``parked``), and which were refused, by index, with why; ``screened``:
    of the accepted, how many were a bot's or declined consent (nothing of them kept)."""

    success: bool
    accepted: int
    parked: int
    rejected: list[dict[str, Any]]
    screened: dict[str, int] = {}
