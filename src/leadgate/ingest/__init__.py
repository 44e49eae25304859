"""Events in: the native REST batch and the Segment-compatible tracking API."""

from leadgate.ingest.segment import DEFAULT_EVENT_NAMES, SegmentResult, apply_segment
from leadgate.ingest.service import IngestResult, LeadState, ingest_events

__all__ = [
    "DEFAULT_EVENT_NAMES",
    "IngestResult",
    "LeadState",
    "SegmentResult",
    "apply_segment",
    "ingest_events",
]
