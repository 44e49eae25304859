"""Recording and reading audit entries (written in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.audit.models import AuditEntry

__all__ = ["audit_dict", "list_audit", "record"]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    at: datetime,
    lead_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry; it commits (or not) with the change it describes."""
    entry = AuditEntry(at=at, actor=actor, action=action, lead_id=lead_id, detail=detail or {})
    session.add(entry)
    return entry


def list_audit(
    session: Session, *, lead_id: str | None = None, limit: int = 100
) -> Sequence[AuditEntry]:
    """The latest entries (of one lead), newest first."""
    query = select(AuditEntry)
    if lead_id is not None:
        query = query.where(AuditEntry.lead_id == lead_id)
    return session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    ).all()


def audit_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "lead_id": entry.lead_id,
        "detail": entry.detail,
    }
