"""Leads kept in memory between requests, with their indexed histories.

Scoring a lead on every event would otherwise mean re-reading its whole history
from the database. Instead the service keeps each active lead's
:class:`~leadgate.scoring.history.LeadHistory` and adds the new events to it.

The memory is never trusted blindly: every use first reads the lead's
*fingerprint* in the request's transaction (one query for all the leads of a
group of requests): its ``updated_at``, stage, stage start, account and the
account's ``updated_at``, its prediction, and how many events it has stored
(``leads.events_stored``, which every event writer keeps in the inserting
transaction: the check reads one column instead of counting the events). A
lead changed by anything else (the REST API, a CLI import in another process,
a prediction run, a merge, a score adjustment made or revoked, which moves the
lead's ``updated_at``) no longer matches and is reloaded from the database, so
what is scored is always what is stored.

The check can be skipped when the caller knows nothing else has written to the
database since the memory was last checked (the service's writer learns it from
SQLite's ``data_version``; see :meth:`LiveLeads.distrust`): every kept lead
carries the *epoch* in which it was last checked, and only leads checked in the
current epoch, under references resolved in it, are taken on trust.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch
from leadgate.events.service import load_event_records
from leadgate.leads.service import find_lead
from leadgate.lifecycle import Stage
from leadgate.scorecards.adjustments import counted_adjustments
from leadgate.scorecards.service import counted_since
from leadgate.scorecards.stored_records import load_stored_leads
from leadgate.scoring.history import LeadHistory
from leadgate.scoring.nodes import ScoringModel

__all__ = ["LiveLead", "LiveLeads"]

Fingerprint = tuple[Any, ...]

#: id, email key, then the fingerprint: what, changed, means the memory is stale
_FINGERPRINTS = (
    "SELECT l.id, l.email_key, l.updated_at, l.stage, l.stage_changed_at, l.account_id, "
    "a.updated_at, p.probability, p.computed_at, l.events_stored "
    "FROM leads l LEFT JOIN accounts a ON a.id = l.account_id "
    "LEFT JOIN predictions p ON p.lead_id = l.id WHERE "
)


@dataclass
class LiveLead:
    """A lead as the request path needs it: identity, stage, and its indexed history."""

    id: str
    email: str
    stage: str
    stage_changed_at: datetime
    account_id: str | None
    history: LeadHistory
    #: what the database said when this was loaded (None: reload on next use)
    fingerprint: Fingerprint | None
    #: ``leads.events_stored`` as this transaction leaves it (checked with the fingerprint)
    stored_events: int
    #: the :class:`LiveLeads` epoch in which it was last checked against the database
    epoch: int = -1


class LiveLeads:
    """The in-memory leads of one service for one model, at most ``capacity`` of them
    (the least recently used are dropped first)."""

    def __init__(self, model: ScoringModel, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.model = model
        self.capacity = capacity
        self._leads: OrderedDict[str, LiveLead] = OrderedDict()
        self.loads = 0
        #: bumped whenever the database may have changed behind the memory's back
        self._epoch = 0
        #: reference (id, email, alias) -> lead id, as resolved in this epoch
        self._refs: dict[str, str] = {}
        #: references resolved from memory without reading the database
        self.trusted = 0

    def __len__(self) -> int:
        return len(self._leads)

    def clear(self) -> None:
        """Forget everything (after a rolled-back transaction, whose changes were applied
        to the memory already)."""
        self._leads.clear()
        self.distrust()

    def distrust(self) -> None:
        """The database may have changed behind the memory's back (another connection
        committed, or this transaction changed leads other than by adding events):
        every kept lead is checked, and every reference resolved, again before use."""
        self._epoch += 1
        self._refs.clear()

    def resolve(
        self, session: Session, refs: Iterable[str], *, trusted: bool = False
    ) -> dict[str, LiveLead]:
        """The lead of each reference (id, email in any case, or a merged lead's alias)
        that exists, checked against the database; with roll-up groups, the leads of
        the same accounts are returned too (under their ids).

        ``trusted``: the caller knows that nothing has written to the database since
        the last :meth:`distrust` but this memory's own transactions, so a reference
        already resolved in this epoch to a lead checked in it is taken from memory
        without a query (without roll-up groups, whose account mates are always read).
        """
        wanted = {ref.strip() for ref in refs if ref and ref.strip()}
        known: dict[str, LiveLead] = {}
        if trusted and not self.model.rollup_groups:
            for ref in wanted:
                lead = self._leads.get(self._refs.get(ref, ""))
                if lead is not None and lead.fingerprint is not None and lead.epoch == self._epoch:
                    known[ref] = lead
                    self._leads.move_to_end(lead.id)
            self.trusted += len(known)
            wanted -= known.keys()
        if not wanted:
            for lead in list(known.values()):
                known.setdefault(lead.id, lead)
            return known
        resolved = self._check(session, wanted)
        for ref, lead in known.items():
            resolved[ref] = lead
            resolved.setdefault(lead.id, lead)
        return resolved

    def _check(self, session: Session, wanted: set[str]) -> dict[str, LiveLead]:
        """:meth:`resolve` through the database: fingerprints read, stale leads reloaded."""
        session.flush()  # the fingerprints are read below the ORM: it must see its changes
        rows = self._fingerprints(session, ids=wanted, emails={ref.lower() for ref in wanted})
        by_id = {row[0]: row for row in rows}
        by_email = {row[1]: row[0] for row in rows}
        found: dict[str, str] = {}
        for ref in wanted:
            lead_id = ref if ref in by_id else by_email.get(ref.lower())
            if lead_id is None:
                merged = find_lead(session, ref=ref)
                if merged is None:
                    continue
                lead_id = merged.id
                if lead_id not in by_id:
                    for row in self._fingerprints(session, ids={lead_id}, emails=set()):
                        by_id[row[0]] = row
            found[ref] = lead_id
        if self.model.rollup_groups:
            accounts = {by_id[lead_id][5] for lead_id in found.values()} - {None}
            if accounts:
                for row in self._fingerprints(session, ids=set(), emails=set(), accounts=accounts):
                    by_id.setdefault(row[0], row)
        live = self._refresh(session, by_id)
        if len(self._refs) > 4 * self.capacity:
            self._refs.clear()
        self._refs.update(found)
        resolved = {ref: live[lead_id] for ref, lead_id in found.items()}
        for lead_id, lead in live.items():
            resolved.setdefault(lead_id, lead)
        return resolved

    def _fingerprints(
        self,
        session: Session,
        *,
        ids: set[str],
        emails: set[str],
        accounts: set[str] | None = None,
    ) -> list[tuple[Any, ...]]:
        dialect = session.get_bind().dialect.name
        tests: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("l.id", ids),
            ("l.email_key", emails),
            ("l.account_id", accounts or set()),
        ):
            if values:
                test, values_params = any_of(dialect, column, sorted(values))
                tests.append(test)
                params.extend(values_params)
        if not tests:
            return []
        return fetch(session, _FINGERPRINTS + " OR ".join(tests), params)

    def _refresh(self, session: Session, rows: dict[str, Any]) -> dict[str, LiveLead]:
        live: dict[str, LiveLead] = {}
        stale: dict[str, tuple[Fingerprint, int]] = {}
        for lead_id, row in rows.items():
            fingerprint = tuple(row[2:9])
            known = self._leads.get(lead_id)
            if (
                known is not None
                and known.fingerprint == fingerprint
                and known.stored_events == row[9]
            ):
                self._leads.move_to_end(lead_id)
                known.epoch = self._epoch
                live[lead_id] = known
            else:
                stale[lead_id] = (fingerprint, row[9])
        if stale:
            for lead in self._load(session, stale):
                live[lead.id] = lead
                self._leads[lead.id] = lead
                self._leads.move_to_end(lead.id)
            while len(self._leads) > self.capacity:
                self._leads.popitem(last=False)
        return live

    def _load(
        self, session: Session, stale: Mapping[str, tuple[Fingerprint | None, int]]
    ) -> list[LiveLead]:
        """Read these leads and their histories; ``stale`` gives each one's fingerprint
        and stored-event count as this transaction read them."""
        ids = sorted(stale)
        self.loads += len(ids)
        session.flush()  # read below the ORM: it must see the ORM's pending changes
        stored = load_stored_leads(session, lead_ids=ids)
        events = load_event_records(session, lead_ids=ids)
        loaded = []
        for lead_id, lead in stored.items():
            record = lead.record
            if record.adjustments:
                counted = counted_adjustments(lead.stage, lead.stage_changed_at, record.adjustments)
                record = replace(record, adjustments=counted)
            history = LeadHistory(
                self.model,
                record,
                lead.account,
                counted_since(lead.stage, lead.stage_changed_at, events.get(lead_id, [])),
            )
            loaded.append(
                LiveLead(
                    id=lead_id,
                    email=lead.record.email or "",
                    stage=lead.stage,
                    stage_changed_at=lead.stage_changed_at,
                    account_id=lead.record.account_id,
                    history=history,
                    fingerprint=stale[lead_id][0],
                    stored_events=stale[lead_id][1],
                    epoch=self._epoch,
                )
            )
        return loaded

    def rebuild(self, session: Session, lead: LiveLead) -> None:
        """Re-read the lead's history in place (its counted events changed with its stage)."""
        (fresh,) = self._load(session, {lead.id: (None, lead.stored_events)})
        lead.history = fresh.history
        lead.stored_events = fresh.stored_events
        lead.fingerprint = None

    def moved(self, lead: LiveLead, *, stage: Stage, at: datetime) -> None:
        """Record a stage change made through the ORM: later requests of the same
        transaction see it, the next transaction reloads the lead."""
        lead.stage = stage.value
        lead.stage_changed_at = at
        lead.fingerprint = None
        if stage is Stage.NURTURE:
            self._leads.pop(lead.id, None)
