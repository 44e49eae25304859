"""Stored leads read as the evaluator's records in one query, below the ORM.

The service loads a lead whenever it first sees it: after a restart, or when
events arrive for one of many leads that are not kept in memory. Through the
ORM that took three queries a group and a mapped object for every lead, which
together cost more than scoring the leads. Here one statement reads the leads
with their accounts and predictions (and one more their score adjustments), and
the rows are decoded as the ORM columns would decode them (a test holds the result equal to
:func:`~leadgate.scorecards.service.lead_record` and
:func:`~leadgate.scorecards.service.account_record` on every engine).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch, json_reader, time_reader
from leadgate.scorecards.adjustments import load_adjustments
from leadgate.scoring.records import ACCOUNT_COLUMNS, LEAD_COLUMNS, AccountRecord, LeadRecord

__all__ = ["StoredLead", "load_stored_leads"]

_LEADS = len(LEAD_COLUMNS)
_SELECT = (
    "SELECT "
    + ", ".join(f"l.{column}" for column in LEAD_COLUMNS)
    + ", l.stage, l.stage_changed_at, p.probability, "
    + ", ".join(f"a.{column}" for column in ACCOUNT_COLUMNS)
    + " FROM leads l LEFT JOIN accounts a ON a.id = l.account_id "
    "LEFT JOIN predictions p ON p.lead_id = l.id WHERE "
)
#: Lead columns stored as integers on SQLite that the records hold as booleans.
_FLAGS = ("do_not_email", "do_not_call")


class StoredLead(NamedTuple):
    """A stored lead as scoring sees it, with the stage its counted events depend on."""

    record: LeadRecord
    account: AccountRecord | None
    stage: str
    stage_changed_at: datetime


def load_stored_leads(session: Session, *, lead_ids: Iterable[str]) -> dict[str, StoredLead]:
    """The leads of ``lead_ids`` that exist, by id, read in the session's transaction
    (each record with all its adjustments: which count depends on the stage)."""
    dialect = session.get_bind().dialect.name
    wanted = sorted(set(lead_ids))
    test, params = any_of(dialect, "l.id", wanted)
    adjustments = load_adjustments(session, lead_ids=wanted)
    read_time, read_json = time_reader(dialect), json_reader(dialect)
    loaded: dict[str, StoredLead] = {}
    for row in fetch(session, _SELECT + test, params):
        values = dict(zip(LEAD_COLUMNS, row[:_LEADS], strict=True))
        values["attributes"] = read_json(values["attributes"])
        for flag in _FLAGS:
            values[flag] = bool(values[flag])
        stage, changed_at, predicted = row[_LEADS : _LEADS + 3]
        lead = LeadRecord(
            **values, predicted=predicted, adjustments=adjustments.get(values["id"], ())
        )
        account = None
        stored_account = row[_LEADS + 3 :]
        if stored_account[0] is not None:
            account_values = dict(zip(ACCOUNT_COLUMNS, stored_account, strict=True))
            account_values["attributes"] = read_json(account_values["attributes"])
            account = AccountRecord(**account_values)
        loaded[lead.id] = StoredLead(lead, account, stage, read_time(changed_at))
    return loaded
