"""Lifecycle stages and the table of allowed transitions. Pure: no storage, no clock."""

from __future__ import annotations

from leadgate.lifecycle.stages import (
    AUTO_QUALIFY_FROM,
    TRANSITIONS,
    Stage,
    allowed_targets,
    check_transition,
    is_allowed,
)

__all__ = [
    "AUTO_QUALIFY_FROM",
    "TRANSITIONS",
    "Stage",
    "allowed_targets",
    "check_transition",
    "is_allowed",
]
