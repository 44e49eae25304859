"""A lead's first and latest touch, kept in its ``leads.*_touch_*`` columns.

The rules are :mod:`leadgate.leads.attribution`'s; this module reads and writes
them on a :class:`Lead` in the caller's transaction (the tracking call's, so a
touch is stored with its event or not at all).

``leads.channel`` is the lead's channel as imported or set by a CRM or an
``identify`` trait and is never overwritten; while it is empty it takes the
first touch's channel (once: a later correction of the first touch shows in
``first_touch_channel``, the column reports should group tracked leads by).
"""

from __future__ import annotations

from typing import Literal

from leadgate.leads.attribution import Attribution, StoredTouch, Touch, merge_touch
from leadgate.leads.models import Lead

__all__ = ["attribution_of", "merge_lead_touches", "record_touch"]

_Which = Literal["first", "latest"]


def _stored(lead: Lead, which: _Which) -> StoredTouch | None:
    at = getattr(lead, f"{which}_touch_at")
    if at is None:
        return None
    return StoredTouch(
        at=at,
        source=getattr(lead, f"{which}_touch_source"),
        medium=getattr(lead, f"{which}_touch_medium"),
        campaign=getattr(lead, f"{which}_touch_campaign"),
        channel=getattr(lead, f"{which}_touch_channel") or "direct",
    )


def _store(lead: Lead, which: _Which, touch: StoredTouch | None) -> None:
    for name in ("at", "source", "medium", "campaign", "channel"):
        value = None if touch is None else getattr(touch, name)
        column = f"{which}_touch_{name}"
        if getattr(lead, column) != value:
            setattr(lead, column, value)


def attribution_of(lead: Lead) -> Attribution:
    """The lead's stored first and latest touch."""
    return Attribution(first=_stored(lead, "first"), latest=_stored(lead, "latest"))


def _write(lead: Lead, attribution: Attribution) -> None:
    _store(lead, "first", attribution.first)
    _store(lead, "latest", attribution.latest)
    if not lead.channel and attribution.first is not None:
        lead.channel = attribution.first.channel


def record_touch(lead: Lead, touch: Touch) -> None:
    """Fold one touch into the lead's first and latest touch (see the module docstring)."""
    _write(lead, merge_touch(attribution_of(lead), touch))


def merge_lead_touches(keep: Lead, drop: Lead) -> None:
    """On a merge, ``keep`` has the touches of both leads (the same rules decide)."""
    merged = attribution_of(keep)
    for touch in (_stored(drop, "first"), _stored(drop, "latest")):
        if touch is not None:
            merged = merge_touch(merged, touch)
    _write(keep, merged)
