"""The action log: each playbook action runs at most once per (lead, stage entry); the
stored versions of the handoff playbooks (saved from the settings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["ActionRun", "PlaybookVersion", "SequenceEnrollment"]


class ActionRun(Base):
    """One action of one playbook for one stage entry; the unique key makes reruns no-ops."""

    __tablename__ = "action_runs"
    __table_args__ = (
        UniqueConstraint("stage_change_id", "playbook", "position", name="uq_action_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    stage_change_id: Mapped[int] = mapped_column(Integer)
    playbook: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(100))
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SequenceEnrollment(Base):
    """A lead enrolled in a nurture/outreach sequence (the campaign tool hears by webhook)."""

    __tablename__ = "sequence_enrollments"
    __table_args__ = (UniqueConstraint("lead_id", "sequence", "stage_change_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[str] = mapped_column(String(200))
    stage_change_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlaybookVersion(Base):
    """One saved version of the handoff playbooks YAML (numbered 1, 2, ...); the latest
    is what ``leadgate serve`` runs (see :mod:`leadgate.actions.versions`)."""

    __tablename__ = "playbook_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    content: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
