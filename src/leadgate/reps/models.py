"""The ``reps`` table: sales reps who own leads, their territories and round-robin weight."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["Rep"]


class Rep(Base):
    """A rep. ``territories`` is a list of {country, industry, size_band, tier: [values]}
    rules (a rule matches when every key it names does); ``assigned`` counts round-robin
    assignments, so weights hold over time."""

    __tablename__ = "reps"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    territories: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    manager: Mapped[str | None] = mapped_column(String(320))
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
