"""The ``anonymous_messages`` table: tracking calls of visitors not identified yet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["AnonymousMessage"]


class AnonymousMessage(Base):
    """A ``track`` or ``page`` from an ``anonymousId`` no lead has yet: kept until the
    visitor identifies (then it becomes the lead's event) or it expires."""

    __tablename__ = "anonymous_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    anonymous_id: Mapped[str] = mapped_column(String(255), index=True)
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    message: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
