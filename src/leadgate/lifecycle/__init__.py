"""Lifecycle stages and the table of allowed transitions. Pure: no storage, no clock."""

from __future__ import annotations

from leadgate.lifecycle.stages import (
    AUTO_QUALIFY_FROM,
    FUNNEL_ORDER,
    LISTED_REASON,
    NEEDS_REASON,
    OUTCOME_STAGES,
    STAGE_DEPTH,
    TRANSITIONS,
    Stage,
    allowed_targets,
    check_transition,
    is_allowed,
    recycled_at,
)

__all__ = [
    "AUTO_QUALIFY_FROM",
    "FUNNEL_ORDER",
    "LISTED_REASON",
    "NEEDS_REASON",
    "OUTCOME_STAGES",
    "STAGE_DEPTH",
    "TRANSITIONS",
    "Stage",
    "allowed_targets",
    "check_transition",
    "is_allowed",
    "recycled_at",
]
