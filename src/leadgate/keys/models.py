"""The ``api_keys`` table: a key's scope, owner name and the hash of its secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import UTCDateTime

__all__ = ["ApiKey"]


class ApiKey(Base):
    """Only the SHA-256 of the secret is stored; ``prefix`` lets people tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the user the key acts for (their role and name in the audit), if any
    user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: the site origins a public (browser) ingest key may be used from; None: a
    #: server key, sent only from back ends
    origins: Mapped[list[str] | None] = mapped_column(JSON, default=None)
