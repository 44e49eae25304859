"""Stored leads read as the evaluator's records in one query, below the ORM.

The service loads a lead whenever it first sees it: after a restart, or when
events arrive for one of many leads that are not kept in memory. Through the
ORM that took three queries a group and a mapped object for every lead, which
together cost more than scoring the leads. Here one statement reads the leads
with their accounts and predictions, and the rows are decoded as the ORM
columns would decode them (a test holds the result equal to
:func:`~leadgate.scorecards.service.lead_record` and
:func:`~leadgate.scorecards.service.account_record` on every engine).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch, json_reader, time_reader
from leadgate.scoring.records import AccountRecord, LeadRecord

__all__ = ["StoredLead", "load_stored_leads"]

_LEAD_COLUMNS = (
    "id, email, first_name, last_name, title, seniority, department, country, source, "
    "channel, campaign, do_not_email, do_not_call, account_id, attributes"
)
_ACCOUNT_COLUMNS = (
    "id, domain, name, industry, employees, annual_revenue, country, tier, owner, attributes"
)
_SELECT = (
    "SELECT "
    + ", ".join(f"l.{column}" for column in _LEAD_COLUMNS.split(", "))
    + ", l.stage, l.stage_changed_at, p.probability, "
    + ", ".join(f"a.{column}" for column in _ACCOUNT_COLUMNS.split(", "))
    + " FROM leads l LEFT JOIN accounts a ON a.id = l.account_id "
    "LEFT JOIN predictions p ON p.lead_id = l.id WHERE "
)


class StoredLead(NamedTuple):
    """A stored lead as scoring sees it, with the stage its counted events depend on."""

    record: LeadRecord
    account: AccountRecord | None
    stage: str
    stage_changed_at: datetime


def load_stored_leads(session: Session, *, lead_ids: Iterable[str]) -> dict[str, StoredLead]:
    """The leads of ``lead_ids`` that exist, by id, read in the session's transaction."""
    dialect = session.get_bind().dialect.name
    test, params = any_of(dialect, "l.id", sorted(set(lead_ids)))
    read_time, read_json = time_reader(dialect), json_reader(dialect)
    loaded: dict[str, StoredLead] = {}
    for row in fetch(session, _SELECT + test, params):
        lead = LeadRecord(
            id=row[0],
            email=row[1],
            first_name=row[2],
            last_name=row[3],
            title=row[4],
            seniority=row[5],
            department=row[6],
            country=row[7],
            source=row[8],
            channel=row[9],
            campaign=row[10],
            do_not_email=bool(row[11]),
            do_not_call=bool(row[12]),
            account_id=row[13],
            attributes=read_json(row[14]),
            predicted=row[17],
        )
        account = None
        if row[18] is not None:
            account = AccountRecord(
                id=row[18],
                domain=row[19],
                name=row[20],
                industry=row[21],
                employees=row[22],
                annual_revenue=row[23],
                country=row[24],
                tier=row[25],
                owner=row[26],
                attributes=read_json(row[27]),
            )
        loaded[lead.id] = StoredLead(lead, account, row[15], read_time(row[16]))
    return loaded
