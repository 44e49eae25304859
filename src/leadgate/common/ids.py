"""Identifiers and clocks owned by the storage layer (never by the pure core)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

__all__ = ["new_id", "utcnow"]


def new_id(prefix: str) -> str:
    """A random id such as ``ld_3f2a...``; prefixes tell record kinds apart in logs."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def utcnow() -> datetime:
    """The current time in UTC (the one clock read of the storage layer)."""
    return datetime.now(UTC)
