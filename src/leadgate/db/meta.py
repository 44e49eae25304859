"""The ``meta`` table: small facts about the database itself (e.g. that it is a demo)."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base

__all__ = ["MetaEntry"]


class MetaEntry(Base):
    """A key/value fact about this database."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
