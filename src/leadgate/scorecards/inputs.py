"""What a stored scorecard was computed from besides the content of its events, as one
digest: the lead's stored event count, its ``updated_at`` (which its edits and score
adjustments move), stage and stage start, its account and the account's
``updated_at``, and its predicted probability, as the evaluation read them.

Written with every card (``scorecards.inputs_digest``), it lets a reader trust a
card without re-reading the lead's history: the digest of the lead's row now equals
the card's only if none of these changed since. Values are compared, never ordered
by time, so no clock (a test's, another process's) can make a stale card look
current.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.common.driver_sql import any_of, fetch, time_reader
from leadgate.leads.models import Lead

__all__ = ["INPUT_COLUMNS", "inputs_digest", "lead_inputs", "row_inputs", "stored_inputs"]

#: the columns of a lead's digest, in :func:`row_inputs`' order (``l``: leads,
#: ``a``: its account, ``p``: its prediction)
INPUT_COLUMNS = (
    "l.events_stored, l.updated_at, l.stage, l.stage_changed_at, l.account_id, "
    "a.updated_at, p.probability"
)
_STORED = (
    f"SELECT l.id, {INPUT_COLUMNS} FROM leads l LEFT JOIN accounts a ON a.id = l.account_id "
    "LEFT JOIN predictions p ON p.lead_id = l.id WHERE "
)


def inputs_digest(
    *,
    events_stored: int,
    updated_at: datetime,
    stage: str,
    stage_changed_at: datetime,
    account_id: str | None,
    account_updated_at: datetime | None,
    predicted: float | None,
) -> str:
    """The digest of a lead's scoring inputs (times in UTC, floats exactly)."""
    parts = [
        str(int(events_stored)),
        _instant(updated_at),
        stage,
        _instant(stage_changed_at),
        account_id or "",
        _instant(account_updated_at),
        "" if predicted is None else float(predicted).hex(),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def lead_inputs(lead: Lead, account: Account | None, predicted: float | None) -> str:
    """The digest of a lead as the ORM loaded it."""
    return inputs_digest(
        events_stored=lead.events_stored,
        updated_at=lead.updated_at,
        stage=lead.stage,
        stage_changed_at=lead.stage_changed_at,
        account_id=lead.account_id,
        account_updated_at=None if account is None else account.updated_at,
        predicted=predicted,
    )


def row_inputs(
    read_time: Callable[[Any], datetime],
    events_stored: int,
    updated_at: Any,
    stage: str,
    stage_changed_at: Any,
    account_id: str | None,
    account_updated_at: Any,
    predicted: float | None,
) -> str:
    """The digest of a lead read below the ORM (times as the driver returns them)."""
    return inputs_digest(
        events_stored=events_stored,
        updated_at=read_time(updated_at),
        stage=stage,
        stage_changed_at=read_time(stage_changed_at),
        account_id=account_id,
        account_updated_at=None if account_updated_at is None else read_time(account_updated_at),
        predicted=predicted,
    )


def stored_inputs(session: Session, *, lead_ids: Iterable[str]) -> dict[str, str]:
    """The digest of each lead as stored now in the session's transaction (after a
    change the card still holds, such as a promotion to ``mql``)."""
    wanted = sorted(set(lead_ids))
    if not wanted:
        return {}
    session.flush()  # read below the ORM: it must see the ORM's pending changes
    dialect = session.get_bind().dialect.name
    test, params = any_of(dialect, "l.id", wanted)
    read_time = time_reader(dialect)
    rows = fetch(session, _STORED + test, params)
    return {row[0]: row_inputs(read_time, *row[1:]) for row in rows}


def _instant(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()
