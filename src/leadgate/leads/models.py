"""Tables of the lead domain: leads, merged-lead aliases and the stage history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.base import Base
from leadgate.db.types import JSONType, UTCDateTime

__all__ = ["Lead", "LeadAlias", "Qualification", "StageChange"]


class Lead(Base):
    """A person. ``email_key`` (lower-cased email) makes two spellings of one address one lead."""

    __tablename__ = "leads"
    # the sales queue: a stage's leads, newest entry first; a team's share counted
    # from the index alone
    __table_args__ = (
        Index("ix_leads_stage_stage_changed_at", "stage", "stage_changed_at"),
        Index("ix_leads_stage_owner", "stage", "owner"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    seniority: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(200))
    campaign: Mapped[str | None] = mapped_column(String(300))
    do_not_email: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    account_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    owner: Mapped[str | None] = mapped_column(String(320), index=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: how many events are stored for the lead, kept by every event writer in the
    #: inserting transaction (``insert_event_rows``, merges): the service checks
    #: its in-memory histories against it without counting events
    events_stored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: marketing attribution from tracking calls (``leadgate.leads.touches``): the
    #: earliest touch by event time and the latest non-direct one, with their
    #: default channel group; NULL until a tracked visit is known
    first_touch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_touch_source: Mapped[str | None] = mapped_column(String(200))
    first_touch_medium: Mapped[str | None] = mapped_column(String(100))
    first_touch_campaign: Mapped[str | None] = mapped_column(String(300))
    first_touch_channel: Mapped[str | None] = mapped_column(String(32))
    latest_touch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latest_touch_source: Mapped[str | None] = mapped_column(String(200))
    latest_touch_medium: Mapped[str | None] = mapped_column(String(100))
    latest_touch_campaign: Mapped[str | None] = mapped_column(String(300))
    latest_touch_channel: Mapped[str | None] = mapped_column(String(32))


class LeadAlias(Base):
    """An id or email key of a lead that was merged into ``lead_id``; references keep resolving."""

    __tablename__ = "lead_aliases"

    alias: Mapped[str] = mapped_column(String(320), primary_key=True)
    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StageChange(Base):
    """One lifecycle move: from, to, when, who (actor) and why."""

    __tablename__ = "stage_changes"
    __table_args__ = (Index("ix_stage_changes_lead_at", "lead_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(64), ForeignKey("leads.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(Text)
    #: ``skipped`` when a batch path entered the stage without its handoff (released
    #: later with ``leadgate handoff release``), then ``released``; else NULL
    handoff: Mapped[str | None] = mapped_column(String(16), index=True, default=None)


class Qualification(Base):
    """What sales recorded when it qualified a lead (BANT), on its move to ``sql``."""

    __tablename__ = "qualifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    stage_change_id: Mapped[int | None] = mapped_column(Integer)
    budget: Mapped[str | None] = mapped_column(Text)
    authority: Mapped[str | None] = mapped_column(Text)
    need: Mapped[str | None] = mapped_column(Text)
    timeline: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
