"""Events in: the native REST batch and the Segment-compatible tracking API, applied in
group commits with the active leads kept in memory."""

from leadgate.ingest.live import LiveLeads
from leadgate.ingest.segment import DEFAULT_EVENT_NAMES, SegmentResult, apply_segment
from leadgate.ingest.service import IngestResult, LeadState, ingest_events, ingest_requests

__all__ = [
    "DEFAULT_EVENT_NAMES",
    "IngestResult",
    "LeadState",
    "LiveLeads",
    "SegmentResult",
    "apply_segment",
    "ingest_events",
    "ingest_requests",
]
