"""What people do to lead records from the web app, checked against who does it:
create a lead, edit it, merge two into one, reassign many at once.

Role boundaries are enforced here, as in :mod:`leadgate.qualification.sales`: a rep
works their own leads and the unassigned ones, a manager their team's, marketing
reads only, an admin works every lead. Every change is on the record with the
user as the actor (stage history for a creation or a merge, the audit trail for
an edit, a merge and each reassignment), and every change that can move a score
goes through the qualification service, so a lead that now meets the MQL
definition is promoted and handed off in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.audit.service import record
from leadgate.common.changes import note_change
from leadgate.events.models import Event
from leadgate.exceptions import LeadgateError, NotFoundError, PermissionDeniedError
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import find_lead, get_lead, merge_leads
from leadgate.qualification.handoff import HandoffPolicy
from leadgate.qualification.sales import reassign_lead
from leadgate.qualification.service import qualify_leads, upsert_and_qualify
from leadgate.scoring.nodes import ScoringModel
from leadgate.users.service import Viewer, require_act

__all__ = [
    "EDITABLE",
    "MAX_BATCH",
    "LeadFields",
    "create_lead",
    "edit_lead",
    "merge_two",
    "reassign_many",
]

#: The lead fields the web forms edit (besides the account domain).
EDITABLE = ("first_name", "last_name", "title", "country", "channel", "campaign")
#: The most leads one bulk action takes.
MAX_BATCH = 500


@dataclass(frozen=True)
class LeadFields:
    """What the create and edit forms send. A blank text field is no value; on an
    edit it clears the field, except the account domain (blank keeps the account)."""

    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    country: str | None = None
    channel: str | None = None
    campaign: str | None = None
    account_domain: str | None = None


def _require_sales(viewer: Viewer) -> None:
    if not viewer.acts_on_sales:
        raise PermissionDeniedError(f"a {viewer.role.value} user cannot change leads")


def _validated(**values: Any) -> LeadCreate:
    """The form's values as the lead schema checks them (a 422 naming each field)."""
    try:
        return LeadCreate(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'lead'}: "
            f"{str(error['msg']).removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise LeadgateError(problems) from None


def _snapshot(session: Session, lead: Lead) -> dict[str, str | None]:
    values: dict[str, str | None] = {name: getattr(lead, name) for name in EDITABLE}
    account = session.get(Account, lead.account_id) if lead.account_id else None
    values["account"] = None if account is None else (account.domain or account.id)
    return values


def create_lead(
    session: Session,
    *,
    viewer: Viewer,
    actor: str,
    email: str,
    fields: LeadFields,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    now: datetime,
    lead_id: str | None = None,
) -> Lead:
    """A new lead, scored at once (its fit alone may make it an MQL, handed off).

    Refused when a lead (or a lead merged into one) already has the email: the
    form creates, it never updates someone else's lead behind a viewer's back.
    """
    _require_sales(viewer)
    data = _validated(id=lead_id, email=email, **asdict(fields))
    existing = find_lead(session, ref=data.email)
    if existing is not None:
        raise LeadgateError(f"a lead with the email {data.email} exists already ({existing.id})")
    if lead_id is not None and find_lead(session, ref=lead_id) is not None:
        raise LeadgateError(f"a lead {lead_id} exists already")
    lead, _ = upsert_and_qualify(
        session, data=data, model=model, now=now, actor=actor, handoff=handoff
    )
    return lead


def edit_lead(
    session: Session,
    *,
    viewer: Viewer,
    actor: str,
    ref: str,
    fields: LeadFields,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    now: datetime,
) -> Lead:
    """Change a lead's fields and score it again; the changed fields go to the audit
    trail (``lead.edited``, each as ``before → after``)."""
    lead = get_lead(session, ref=ref)
    require_act(viewer, lead)
    data = _validated(id=lead.id, email=lead.email, **asdict(fields))
    before = _snapshot(session, lead)
    for name in EDITABLE:
        if getattr(data, name) is None:
            setattr(lead, name, None)
    lead, _ = upsert_and_qualify(
        session, data=data, model=model, now=now, actor=actor, handoff=handoff
    )
    after = _snapshot(session, lead)
    changed = {
        name: f"{before[name] or 'none'} → {after[name] or 'none'}"
        for name in before
        if before[name] != after[name]
    }
    if changed:
        record(session, actor=actor, action="lead.edited", at=now, lead_id=lead.id, detail=changed)
    return lead


def merge_two(
    session: Session,
    *,
    viewer: Viewer,
    actor: str,
    keep_ref: str,
    drop_ref: str,
    model: ScoringModel,
    handoff: HandoffPolicy | None,
    now: datetime,
) -> Lead:
    """Fold the lead ``drop_ref`` into ``keep_ref`` (its events, stage history and
    aliases move over; see :func:`leadgate.leads.service.merge_leads`) and score the
    kept lead on everything both did. The viewer must be allowed to work both."""
    keep = get_lead(session, ref=keep_ref)
    drop = get_lead(session, ref=drop_ref)
    if keep.id == drop.id:
        raise LeadgateError("choose two different leads to merge")
    require_act(viewer, keep)
    require_act(viewer, drop)
    dropped = {"merged": drop.id, "email": drop.email, "stage": drop.stage}
    kept = merge_leads(session, keep=keep, drop=drop, actor=actor, now=now)
    events = session.scalar(select(func.count()).where(Event.lead_id == kept.id)) or 0
    record(
        session,
        actor=actor,
        action="lead.merged",
        at=now,
        lead_id=kept.id,
        detail={**dropped, "events": events},
    )
    qualify_leads(
        session, lead_ids=[kept.id], model=model, as_of=now, handoff=handoff, now=now, actor=actor
    )
    note_change(session, kind="lead.merged", lead_id=kept.id)
    return kept


def reassign_many(
    session: Session,
    *,
    viewer: Viewer,
    actor: str,
    refs: Sequence[str],
    owner: str,
    now: datetime,
) -> list[Lead]:
    """Give every lead of ``refs`` to ``owner``, all or none: when any lead is
    unknown or outside the viewer's rights, the whole batch is refused with one
    message naming them, before anything changes (the caller's transaction rolls
    back any later refusal, such as an unavailable rep)."""
    _require_sales(viewer)
    unique = list(dict.fromkeys(ref.strip() for ref in refs if ref.strip()))
    if not unique:
        raise LeadgateError("choose at least one lead to reassign")
    if len(unique) > MAX_BATCH:
        raise LeadgateError(f"reassign at most {MAX_BATCH} leads at once")
    found = {ref: find_lead(session, ref=ref) for ref in unique}
    missing = [ref for ref, lead in found.items() if lead is None]
    if missing:
        raise NotFoundError(f"no lead {', '.join(missing[:5])}: nothing was reassigned")
    leads = [lead for lead in found.values() if lead is not None]
    outside = [lead for lead in leads if not viewer.sees_owner(lead.owner)]
    if outside:
        names = ", ".join(lead.email for lead in outside[:5])
        more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
        raise PermissionDeniedError(
            f"{len(outside)} of the {len(leads)} leads belong to another team ({names}{more}): "
            "nothing was reassigned"
        )
    return [
        reassign_lead(session, viewer=viewer, actor=actor, ref=lead.id, owner=owner, now=now)
        for lead in leads
    ]
