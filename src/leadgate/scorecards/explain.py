"""Scorecards recomputed for reading (the lead page, ``GET /api/v1/leads/{ref}``,
``leadgate score explain``): the cards :func:`~leadgate.scorecards.service.evaluate_leads`
computes for these leads, without reading every account mate's history.

A roll-up group (account engagement) makes every contact's events part of each
contact's score, so recomputing one lead of an account of 1,500 contacts as of
now read 70,000 events. Here only the leads asked for are read from their
events; each account mate adds just the groups the roll-ups read
(:func:`~leadgate.scoring.history.rollup_sources`), taken from its stored
scorecard when that card provably holds everything they depend on at ``as_of``:

- it is a card of this model version, computed at or before ``as_of``;
- the digest of what it was computed from besides its events' content (the
  lead's stored event count, its ``updated_at``, which edits and score
  adjustments move, stage and stage start, account and the account's
  ``updated_at``, prediction: :mod:`leadgate.scorecards.inputs`) equals the
  digest of the mate's row now;
- the mate has no event dated after the card's instant and at or before
  ``as_of`` (stored then, not yet counted);
- it lists every event each event rule counted (``scorecards.counted_events``).

The events the card counted then score, at ``as_of``, exactly as the full history
would (:meth:`~leadgate.scoring.history.LeadHistory.counted`); any other mate is
read from its events. Tests hold the result equal to ``evaluate_leads`` for every
one of these conditions broken.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from leadgate.common.driver_sql import any_of, fetch, time_reader
from leadgate.events.service import load_event_records, sqlite_time
from leadgate.scorecards.adjustments import counted_adjustments, load_adjustments
from leadgate.scorecards.inputs import INPUT_COLUMNS, row_inputs
from leadgate.scorecards.service import counted_since, evaluate_leads
from leadgate.scorecards.stored_records import StoredLead, load_stored_leads
from leadgate.scoring.evaluator import evaluate_histories
from leadgate.scoring.history import LeadHistory, rollup_sources
from leadgate.scoring.nodes import AttributeRule, EventRule, ScoringModel
from leadgate.scoring.records import EventRecord, LeadRecord
from leadgate.scoring.scorecard import Scorecard

__all__ = ["explain_cards"]

#: the leads of some accounts with what tells whether their stored card is current
_MATES = (
    f"SELECT l.id, {INPUT_COLUMNS}, s.model_name, s.model_version, s.as_of, "
    "s.inputs_digest, s.counted_events FROM leads l "
    "LEFT JOIN accounts a ON a.id = l.account_id "
    "LEFT JOIN predictions p ON p.lead_id = l.id "
    "LEFT JOIN scorecards s ON s.lead_id = l.id WHERE "
)


def explain_cards(
    session: Session,
    *,
    lead_ids: Sequence[str],
    model: ScoringModel,
    as_of: datetime,
    recorded_predictions: Mapping[str, float | None] | None = None,
) -> list[Scorecard]:
    """The scorecards of ``lead_ids`` (those that exist) as of ``as_of``, equal to
    ``evaluate_leads``' cards of them; nothing is written.

    ``recorded_predictions`` replaces the stored prediction of those leads (None: no
    prediction), as in ``evaluate_leads``.
    """
    wanted = set(lead_ids)
    if not model.rollup_groups:
        _, alone = evaluate_leads(
            session,
            lead_ids=sorted(wanted),
            model=model,
            as_of=as_of,
            recorded_predictions=recorded_predictions,
        )
        return [card for card in alone if card.lead_id in wanted]
    targets = load_stored_leads(session, lead_ids=wanted)
    for lead_id, probability in (recorded_predictions or {}).items():
        if lead_id in targets:
            stored = targets[lead_id]
            targets[lead_id] = stored._replace(record=replace(stored.record, predicted=probability))
    accounts = sorted(
        {
            lead.record.account_id
            for lead in targets.values()
            if lead.account is not None and lead.record.account_id is not None
        }
    )
    mates = _mates_by_account(session, model, accounts, set(targets), as_of)
    events = load_event_records(session, lead_ids=sorted(targets), until=as_of)
    by_account: dict[str | None, list[LeadHistory]] = defaultdict(list)
    cards: list[Scorecard] = []
    for lead_id in sorted(targets):
        stored = targets[lead_id]
        history = _history(model, stored, events.get(lead_id, []))
        if stored.account is None:
            cards.extend(evaluate_histories(model, [history], as_of))
        else:
            by_account[stored.record.account_id].append(history)
    for account_id, histories in by_account.items():
        assert account_id is not None
        cards.extend(evaluate_histories(model, histories, as_of, mates=mates.get(account_id, [])))
    return sorted(cards, key=lambda card: card.lead_id)


def _history(model: ScoringModel, stored: StoredLead, events: list[EventRecord]) -> LeadHistory:
    """A lead's history as ``evaluate_leads`` builds it: counted events and adjustments."""
    return LeadHistory(
        model,
        _counted_record(stored),
        stored.account,
        counted_since(stored.stage, stored.stage_changed_at, events),
    )


def _counted_record(stored: StoredLead) -> LeadRecord:
    """The lead's record with only the adjustments that count in its stage."""
    if not stored.record.adjustments:
        return stored.record
    counted = counted_adjustments(stored.stage, stored.stage_changed_at, stored.record.adjustments)
    return replace(stored.record, adjustments=counted)


def _mates_by_account(
    session: Session,
    model: ScoringModel,
    accounts: Sequence[str],
    targets: set[str],
    as_of: datetime,
) -> dict[str, list[LeadHistory]]:
    """The other leads of ``accounts``, indexed for the roll-ups' source groups: from
    their stored cards where those are current, else from their events."""
    if not accounts:
        return {}
    dialect = session.get_bind().dialect.name
    test, params = any_of(dialect, "l.account_id", accounts)
    read_time = time_reader(dialect)
    sources = rollup_sources(model)
    rules = {
        rule.id: rule
        for group in sources.rule_groups
        for rule in group.rules
        if isinstance(rule, EventRule)
    }
    current: dict[str, tuple[datetime, Mapping[str, Any]]] = {}
    #: each mate's account, stage and stage start
    mates_of: dict[str, tuple[str, str, datetime]] = {}
    for row in fetch(session, _MATES + test, params):
        lead_id = row[0]
        if lead_id in targets:
            continue
        mates_of[lead_id] = (row[5], row[3], read_time(row[4]))
        name, version, card_as_of, digest, counted_events = row[8:]
        if name != model.name or version != model.version or None in (digest, counted_events):
            continue
        if digest != row_inputs(read_time, *row[1:8]):
            continue
        card_at = read_time(card_as_of)
        if card_at > as_of:
            continue
        current[lead_id] = (card_at, orjson.loads(counted_events))
    for lead_id in _dated_since_card(session, current, as_of):
        del current[lead_id]
    counted = {lead_id: _counted(card, rules) for lead_id, (_, card) in current.items()}
    from_cards = {lead_id: found for lead_id, found in counted.items() if found is not None}
    # the source groups' attribute rules read the lead's and account's fields; without
    # any, a mate scored from its card needs only its adjustments
    records = any(isinstance(rule, AttributeRule) for rule in sources.rules)
    stored = load_stored_leads(
        session, lead_ids=[lead_id for lead_id in mates_of if records or lead_id not in from_cards]
    )
    adjustments = {} if records else load_adjustments(session, lead_ids=sorted(from_cards))
    from_events = sorted(lead_id for lead_id in stored if lead_id not in from_cards)
    events = load_event_records(session, lead_ids=from_events, until=as_of) if from_events else {}
    mates: dict[str, list[LeadHistory]] = defaultdict(list)
    for lead_id in sorted(mates_of):
        account_id, stage, started = mates_of[lead_id]
        found = from_cards.get(lead_id)
        if found is not None and not records:
            counts = counted_adjustments(stage, started, adjustments.get(lead_id, ()))
            record = LeadRecord(id=lead_id, account_id=account_id, adjustments=counts)
            history = LeadHistory.counted(sources, record, None, found)
        elif lead_id in stored:
            lead = stored[lead_id]
            if found is None:
                history = _history(sources, lead, events.get(lead_id, []))
            else:
                history = LeadHistory.counted(sources, _counted_record(lead), lead.account, found)
        else:
            continue  # gone since the first read
        mates[account_id].append(history)
    return mates


def _dated_since_card(
    session: Session, current: Mapping[str, tuple[datetime, Mapping[str, Any]]], as_of: datetime
) -> set[str]:
    """The leads of ``current`` with an event dated after their card's instant and at or
    before ``as_of``: stored before the card was computed, yet not counted by it."""
    if not current:
        return set()
    dialect = session.get_bind().dialect.name
    earliest = min(card_at for card_at, _ in current.values())
    test, params = any_of(dialect, "lead_id", sorted(current))
    mark = "?" if dialect == "sqlite" else "%s"
    bounds = (
        [sqlite_time(earliest), sqlite_time(as_of)] if dialect == "sqlite" else [earliest, as_of]
    )
    read_time = time_reader(dialect)
    rows = fetch(
        session,
        f"SELECT lead_id, occurred_at FROM events WHERE {test} "
        f"AND occurred_at > {mark} AND occurred_at <= {mark}",
        [*params, *bounds],
    )
    return {lead_id for lead_id, at in rows if read_time(at) > current[lead_id][0]}


def _counted(
    card: Mapping[str, Any], rules: Mapping[str, EventRule]
) -> dict[str, list[EventRecord]] | None:
    """The events each of ``rules`` counted, from a card's ``counted_events``
    (:meth:`~leadgate.scoring.scorecard.Scorecard.counted_json`), or None when the
    card does not list every one of them (then the mate is read from its events)."""
    found: dict[str, list[EventRecord]] = {}
    for rule_id, rule in rules.items():
        entry = card.get(rule_id)
        if entry is None:
            return None
        matched, listed = entry
        expected = matched if rule.max_count is None else min(matched, rule.max_count)
        if len(listed) != expected:
            return None
        found[rule_id] = [
            EventRecord(event_id, type_, datetime.fromisoformat(ts))
            for ts, event_id, type_ in listed
        ]
    return found
