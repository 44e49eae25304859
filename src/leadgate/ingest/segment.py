"""The Segment (and RudderStack) tracking spec, translated into leads, accounts and events.

* ``identify``: upsert the lead from ``traits`` (``email`` required; ``userId``
  becomes the lead id); other traits become custom attributes.
* ``group``: upsert the account ``groupId`` from ``traits`` and link the lead.
* ``track``: an event; ``event`` names are mapped to leadgate types
  (``Email Opened`` -> ``email.opened``, configurable); a name that already is a
  leadgate type (``email.clicked``) passes through; any other name becomes a
  lower-case type (``Demo Requested`` -> ``demo_requested``).
* ``page``: a ``page.viewed`` event with the URL in ``properties.url``.
* ``identify``, ``track``, ``page`` (and kept calls, when replayed) also update the
  lead's first and latest touch from their UTM and referrer (leadgate.leads.touches).

``messageId`` is the event id, so a retried delivery is stored once. The lead of
a ``track``/``page`` is the ``userId`` (a lead id, or an e-mail), else
``context.traits.email``, else the lead its ``anonymousId`` was identified as.

A visitor's calls before they identify (only an ``anonymousId``) are kept in
``anonymous_messages``; the ``identify`` (or ``alias``) that names them turns
them into the lead's events, scored in that request, and links the
``anonymousId`` to the lead for later calls. Kept calls expire after
``LEADGATE_ANONYMOUS_RETENTION_DAYS``. A call with neither a known lead nor an
``anonymousId`` is rejected, never stored half-way. See docs/service.md for
batch semantics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.common.text import parse_timestamp
from leadgate.events.schemas import EventCreate, check_event_type
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.ingest.live import LiveLeads
from leadgate.ingest.models import AnonymousMessage
from leadgate.ingest.screening import (
    ScreeningPolicy,
    Verdict,
    current_policy,
    log_screened,
    screen,
)
from leadgate.ingest.service import IngestResult, ingest_events
from leadgate.leads.attribution import clean_text, touch_from_context
from leadgate.leads.models import Lead, LeadAlias
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import find_lead, upsert_lead
from leadgate.leads.touches import record_touch
from leadgate.scorecards.service import score_leads
from leadgate.scoring.nodes import ScoringModel

__all__ = [
    "DEFAULT_EVENT_NAMES",
    "SegmentMessage",
    "SegmentResult",
    "apply_segment",
    "expire_anonymous",
]

#: Segment's spec names (and common ones) for what leadgate scores.
DEFAULT_EVENT_NAMES: dict[str, str] = {
    "Email Opened": "email.opened",
    "Email Link Clicked": "email.clicked",
    "Email Clicked": "email.clicked",
    "Email Delivered": "email.delivered",
    "Email Bounced": "email.bounced",
    "Unsubscribed": "email.unsubscribed",
    "Email Unsubscribed": "email.unsubscribed",
    "Form Submitted": "form.submitted",
    "Content Downloaded": "content.downloaded",
    "Webinar Registered": "webinar.registered",
    "Webinar Attended": "webinar.attended",
    "Trial Started": "trial.started",
    "Meeting Booked": "meeting.booked",
    "Demo Requested": "demo.requested",
    "Page Viewed": "page.viewed",
}
_LEAD_TRAITS = {
    "email": "email",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "title": "title",
    "seniority": "seniority",
    "department": "department",
    "country": "country",
    "source": "source",
    "channel": "channel",
    "campaign": "campaign",
}
_ACCOUNT_TRAITS = {
    "name": "name",
    "industry": "industry",
    "employees": "employees",
    "domain": "domain",
    "website": "domain",
    "country": "country",
    "tier": "tier",
    "plan": "tier",
    "owner": "owner",
}


class SegmentMessage(BaseModel):
    """One message of the Segment spec (unknown keys are kept by Segment and ignored here)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str = Field(max_length=20)
    message_id: str | None = Field(default=None, alias="messageId", max_length=255)
    user_id: str | int | None = Field(default=None, alias="userId")
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=255)
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=500)
    group_id: str | int | None = Field(default=None, alias="groupId")
    timestamp: str | None = None
    original_timestamp: str | None = Field(default=None, alias="originalTimestamp")
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)


@dataclass
class SegmentResult:
    """Per request: what was stored, what was kept for a visitor not identified yet,
    and the messages rejected (with why)."""

    accepted: int = 0
    parked: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    ingest: IngestResult = field(default_factory=IngestResult)
    #: acknowledged, not stored: how many per reason ("bot", "declined"; ingest/screening.py)
    screened: dict[str, int] = field(default_factory=dict)


def _anonymous_alias(anonymous_id: str) -> str:
    """The lead alias of a visitor's ``anonymousId`` (prefixed: never an id or email)."""
    return f"anon:{anonymous_id.strip()}"


def event_type_for(name: str, names: Mapping[str, str]) -> str:
    """A track name as a leadgate event type."""
    mapped = names.get(name) or names.get(name.strip())
    if mapped is not None:
        return check_event_type(mapped)
    try:
        return check_event_type(name)
    except ValueError:
        slug = re.sub(r"[^a-z0-9_.:-]+", "_", name.strip().lower()).strip("_")
        return check_event_type(slug or "event")


def _when(message: SegmentMessage, now: datetime) -> datetime:
    raw = message.timestamp or message.original_timestamp
    return now if raw is None else parse_timestamp(raw)


def _user(message: SegmentMessage) -> str | None:
    return None if message.user_id is None else str(message.user_id).strip() or None


def _known_ref(session: Session, message: SegmentMessage) -> str | None:
    """The reference of the message's lead if there is one: ``userId``, the e-mail
    in ``context.traits``, or the lead its ``anonymousId`` was identified as."""
    candidates = [_user(message)]
    traits = message.context.get("traits")
    if isinstance(traits, dict) and isinstance(traits.get("email"), str):
        candidates.append(traits["email"])
    if message.anonymous_id and message.anonymous_id.strip():
        candidates.append(_anonymous_alias(message.anonymous_id))
    for ref in candidates:
        if ref:
            lead = find_lead(session, ref=ref)
            if lead is not None:
                return lead.id
    return None


def _lead_ref(session: Session, message: SegmentMessage) -> str:
    ref = _known_ref(session, message)
    if ref is not None:
        return ref
    raise NotFoundError(
        f"{message.type}: no lead for userId {_user(message)!r}; send identify (with an "
        "email trait) first"
    )


def _identify(
    session: Session, message: SegmentMessage, now: datetime, public: bool = False
) -> str:
    traits = dict(message.traits)
    if not traits.get("email") and isinstance(message.context.get("traits"), dict):
        traits = {**message.context["traits"], **traits}
    fields: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in traits.items():
        target = _LEAD_TRAITS.get(key)
        if target is not None and value is not None:
            fields[target] = str(value)
        elif key not in ("id", "company", "address") and value is not None:
            attributes[key] = value
    if "email" not in fields:
        raise LeadgateError("identify: traits.email is required to create or find a lead")
    user = _user(message)
    if public:
        # a public key's identify may create a lead and fill what a known one lacks,
        # never overwrite it nor name a lead id (which could merge two leads)
        known = find_lead(session, ref=fields["email"])
        if known is not None:
            fields = {
                name: value
                for name, value in fields.items()
                if name == "email" or getattr(known, name, None) in (None, "")
            }
            attributes = {
                name: value
                for name, value in attributes.items()
                if name not in (known.attributes or {})
            }
    elif user is not None and len(user) <= 64 and "@" not in user:
        fields["id"] = user
    lead, _ = upsert_lead(
        session, data=LeadCreate(**fields, attributes=attributes), now=now, actor="segment"
    )
    return lead.id


def _link(session: Session, anonymous_id: str | None, lead_id: str, now: datetime) -> list[Any]:
    """Link a visitor's ``anonymousId`` to a lead; returns the calls kept for it."""
    if not anonymous_id or not anonymous_id.strip():
        return []
    alias = _anonymous_alias(anonymous_id)
    existing = session.get(LeadAlias, alias)
    if existing is None:
        session.add(LeadAlias(alias=alias, lead_id=lead_id, created_at=now))
    else:
        existing.lead_id = lead_id
    kept = list(
        session.scalars(
            select(AnonymousMessage)
            .where(AnonymousMessage.anonymous_id == anonymous_id.strip())
            .order_by(AnonymousMessage.id)
        )
    )
    for row in kept:
        session.delete(row)
    return [row.message for row in kept]


def _park(session: Session, message: SegmentMessage, raw: dict[str, Any], now: datetime) -> None:
    """Keep a call of a visitor not identified yet (a redelivery is kept once)."""
    assert message.anonymous_id is not None
    if message.message_id is not None and session.scalar(
        select(AnonymousMessage.id).where(AnonymousMessage.message_id == message.message_id)
    ):
        return
    if message.timestamp is None and message.original_timestamp is None:
        raw = {**raw, "timestamp": now.isoformat()}  # it happened now, not when replayed
    session.add(
        AnonymousMessage(
            anonymous_id=message.anonymous_id.strip(),
            message_id=message.message_id,
            message=raw,
            received_at=now,
        )
    )


def expire_anonymous(session: Session, *, before: datetime) -> int:
    """Drop kept calls received before ``before``; returns how many."""
    result = session.execute(delete(AnonymousMessage).where(AnonymousMessage.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def _group(session: Session, message: SegmentMessage, now: datetime, public: bool = False) -> str:
    if message.group_id is None or not str(message.group_id).strip():
        raise LeadgateError("group: groupId is required")
    fields: dict[str, Any] = {"id": str(message.group_id).strip()}
    attributes: dict[str, Any] = {}
    for key, value in message.traits.items():
        target = _ACCOUNT_TRAITS.get(key)
        if target is not None and value is not None:
            fields[target] = value
        elif value is not None:
            attributes[key] = value
    if isinstance(fields.get("domain"), str):
        fields["domain"] = re.sub(r"^https?://(www\.)?", "", fields["domain"]).split("/")[0]
    lead = find_lead(session, ref=_lead_ref(session, message))
    assert lead is not None
    if public:
        # as a public identify: create the account, fill what a known one lacks, and
        # link a lead that has none; never change a known account or move a lead
        known = session.get(Account, fields["id"])
        if known is None and isinstance(fields.get("domain"), str):
            known = session.scalar(select(Account).where(Account.domain == fields["domain"]))
        if known is not None:
            fields = {
                name: value
                for name, value in fields.items()
                if name == "id" or getattr(known, name, None) in (None, "")
            }
            attributes = {
                name: value
                for name, value in attributes.items()
                if name not in (known.attributes or {})
            }
    account, _ = upsert_account(
        session, data=AccountCreate(**fields, attributes=attributes), now=now
    )
    if not public or lead.account_id is None:
        lead.account_id = account.id
        lead.updated_at = now
    return lead.id


def _touch(session: Session, message: SegmentMessage, lead_id: str, now: datetime) -> None:
    """Fold the call's campaign and referrer into its lead's first and latest touch
    (leadgate.leads.attribution), in the call's transaction."""
    try:
        at = _when(message, now)
    except ValueError:
        return  # an identify's bad timestamp never refused it; it is no touch either
    touch = touch_from_context(message.context, at)
    lead = None if touch is None else session.get(Lead, lead_id)
    if touch is not None and lead is not None:
        record_touch(lead, touch)


def _event(
    message: SegmentMessage, ref: str, names: Mapping[str, str], now: datetime
) -> EventCreate:
    campaign = message.context.get("campaign")
    campaign = campaign if isinstance(campaign, dict) else {}
    properties = dict(message.properties)
    if message.type == "page":
        event_type = "page.viewed"
        page = message.context.get("page")
        if "url" not in properties and isinstance(page, dict) and page.get("url"):
            properties["url"] = page["url"]
        if message.name and "name" not in properties:
            properties["name"] = message.name
    else:
        if not message.event:
            raise LeadgateError("track: event (the event's name) is required")
        event_type = event_type_for(message.event, names)
    return EventCreate(
        event_id=message.message_id,
        lead_id=ref,
        type=event_type,
        occurred_at=_when(message, now),
        # UTM values are anyone's: text only, cut to the columns, never a refusal
        channel=clean_text(campaign.get("medium"), 200) or clean_text(campaign.get("source"), 200),
        campaign=clean_text(campaign.get("name"), 300),
        properties=properties,
    )


def apply_segment(
    session: Session,
    *,
    messages: list[dict[str, Any]],
    model: ScoringModel,
    names: Mapping[str, str],
    now: datetime,
    live: LiveLeads | None = None,
    policy: ScreeningPolicy | None = None,
    key_id: str | None = None,
    public: bool = False,
) -> SegmentResult:
    """Apply messages in order; each one is all or nothing, a bad one is reported, not stored.

    ``public``: sent with a public (browser) key, whose ``identify`` and ``group`` only
    fill what a known lead or account lacks (docs/website-tracking.md, the trust model).

    A bot's message, or one whose consent context declines (``policy``, default: the
    settings'), is acknowledged and counted in ``screened``, and nothing of it is stored.
    """
    result = SegmentResult()
    events: list[EventCreate] = []
    touched: set[str] = set()
    policy = policy if policy is not None else current_policy()
    for index, raw in enumerate(messages):
        verdict = screen(raw, policy)
        if verdict is not Verdict.KEEP:  # a bot's, or declined: acknowledged, nothing kept
            result.screened[verdict] = result.screened.get(verdict, 0) + 1
            result.accepted += 1
            continue
        try:
            with session.begin_nested():
                message = SegmentMessage.model_validate(raw)
                kind = message.type
                if kind == "identify":
                    lead_id = _identify(session, message, now, public)
                    touched.add(lead_id)
                    events.extend(_replayed(session, message.anonymous_id, lead_id, names, now))
                    _touch(session, message, lead_id, now)  # after the (older) visits
                elif kind == "group":
                    touched.add(_group(session, message, now, public))
                elif kind in ("track", "page", "screen"):
                    ref = _known_ref(session, message)
                    if ref is None and message.anonymous_id and message.anonymous_id.strip():
                        _event(message, "anonymous", names, now)  # refuse a bad call now
                        _park(session, message, raw, now)
                        result.parked += 1
                    else:
                        # stored with the request's other events below, then scored once
                        ref = ref if ref is not None else _lead_ref(session, message)
                        events.append(_event(message, ref, names, now))
                        _touch(session, message, ref, now)
                elif kind == "alias":
                    # previousId (the anonymous visitor) becomes the userId's lead
                    previous = raw.get("previousId")
                    lead = (
                        None
                        if message.user_id is None
                        else find_lead(session, ref=str(message.user_id))
                    )
                    if isinstance(previous, str) and lead is not None:
                        events.extend(_replayed(session, previous, lead.id, names, now))
                else:
                    raise LeadgateError(f"unknown message type {kind!r}")
            result.accepted += 1
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            result.rejected.append({"index": index, "error": f"{where}: {first.get('msg')}"})
        except (LeadgateError, ValueError) as exc:
            result.rejected.append({"index": index, "error": str(exc)})
    if events:
        result.ingest = ingest_events(
            session, events=events, model=model, now=now, actor=None, live=live
        )
    leftover = touched - set(result.ingest.leads)
    if leftover:
        _, qualified = score_leads(session, lead_ids=sorted(leftover), model=model, as_of=now)
        result.ingest.qualified.extend(qualified)
    log_screened(result.screened, key_id=key_id)
    return result


def _replayed(
    session: Session,
    anonymous_id: str | None,
    lead_id: str,
    names: Mapping[str, str],
    now: datetime,
) -> list[EventCreate]:
    """The kept calls of ``anonymous_id`` as events of ``lead_id`` (the link is made)."""
    replayed = []
    for stored in _link(session, anonymous_id, lead_id, now):
        try:
            message = SegmentMessage.model_validate(stored)
            replayed.append(_event(message, lead_id, names, now))
            _touch(session, message, lead_id, now)  # touches made while anonymous count
        except (ValidationError, LeadgateError, ValueError):
            continue  # checked when it was kept; a model change cannot lose the others
    return replayed
