"""Scorecards recomputed for reading: equal to ``evaluate_leads`` whether an account
mate's roll-up sources come from its stored card or from its events, and the card is
taken only when it provably holds what the mate's score depends on.

Each test spoils mate B's stored card (its counted events moved back in time, which
changes its decayed score): a read that takes the card shows it; a read that must
not take it (the card is out of date in one of the ways the module lists) equals
``evaluate_leads`` all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.db.engine import Database
from leadgate.events.schemas import EventCreate
from leadgate.events.service import insert_event_rows
from leadgate.ingest import ingest_events
from leadgate.ingest.live import LiveLeads
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, upsert_lead
from leadgate.lifecycle import Stage
from leadgate.scorecards.adjustments import record_adjustment
from leadgate.scorecards.explain import explain_cards
from leadgate.scorecards.models import StoredScorecard
from leadgate.scorecards.service import (
    evaluate_leads,
    evaluate_to_store,
    score_all,
    score_leads,
)
from leadgate.scoring import load_model
from leadgate.scoring.nodes import ScoringModel
from tests.factories import add_predictions

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=3)
MODEL = load_model(
    """
version: 4
name: abm
groups:
  fit:
    rules:
      - {id: cz, when: {lead.country: CZ}, points: 10}
  engagement:
    half_life_days: 30
    max_points: 100
    rules:
      - {id: open, event: email.opened, points: 10, max_count: 2}
      - {id: pricing, event: page.viewed, where: {properties.url: {contains: /pricing}},
         points: 25, half_life_days: 14, within_days: 20}
  account_engagement:
    rollup: {from: engagement, how: sum}
mql:
  all:
    - {score: account_engagement, gte: 40}
    - {any_event: [email.opened], within_days: 90}
"""
)


def _events(lead_id: str, prefix: str, days: list[int]) -> list[Any]:
    rows = []
    for n, day in enumerate(days):
        at = NOW - timedelta(days=day, hours=n)
        rows.append((f"{prefix}-open-{n}", lead_id, "email.opened", at, "email", None, {}))
        rows.append(
            (f"{prefix}-price-{n}", lead_id, "page.viewed", at, "web", None, {"url": "/pricing"})
        )
    return rows


@pytest.fixture
def unscored(db: Database) -> dict[str, str]:
    """Leads A (the one read), B and C at one account, with events, not scored yet."""
    ids: dict[str, str] = {}
    with db.session() as session:
        upsert_account(session, data=AccountCreate(domain="tatra.cz"), now=NOW - timedelta(days=60))
        for name, days in (("a", [1, 5]), ("b", [2, 3, 9, 15]), ("c", [4, 30])):
            lead, _ = upsert_lead(
                session,
                data=LeadCreate(email=f"{name}@tatra.cz", country="CZ"),
                now=NOW - timedelta(days=60),
            )
            insert_event_rows(session, rows=_events(lead.id, name, days), received_at=NOW)
            ids[name] = lead.id
    return ids


@pytest.fixture
def account(db: Database, unscored: dict[str, str]) -> dict[str, str]:
    """The three leads scored (and all promoted) through the request path's writer."""
    with db.session() as session:
        score_leads(session, lead_ids=[unscored["a"]], model=MODEL, as_of=NOW)
    return unscored


def _spoil(session: Session, lead_id: str) -> None:
    """Move every event B's card counted ten days back (the card's score drops later)."""
    card = session.get(StoredScorecard, lead_id)
    assert card is not None and card.counted_events is not None
    counted = orjson.loads(card.counted_events)
    for _, events in counted.values():
        for event in events:
            event[0] = (datetime.fromisoformat(event[0]) - timedelta(days=10)).isoformat()
    card.counted_events = orjson.dumps(counted).decode()


def _both(db: Database, lead_id: str, model: ScoringModel = MODEL) -> tuple[Any, Any]:
    with db.session() as session:
        read = explain_cards(session, lead_ids=[lead_id], model=model, as_of=LATER)
        _, cards = evaluate_leads(session, lead_ids=[lead_id], model=model, as_of=LATER)
    (full,) = [card for card in cards if card.lead_id == lead_id]
    (card,) = read
    return card.to_dict(), full.to_dict()


class TestExplainCards:
    def test_equals_evaluate_leads_with_every_mate_current(
        self, db: Database, account: dict[str, str]
    ) -> None:
        read, full = _both(db, account["a"])
        assert read == full
        assert read["scores"]["account_engagement"] > read["scores"]["engagement"]

    def test_a_current_card_is_what_the_read_takes(
        self, db: Database, account: dict[str, str]
    ) -> None:
        with db.session() as session:
            _spoil(session, account["b"])
        read, full = _both(db, account["a"])
        assert read["scores"]["engagement"] == full["scores"]["engagement"]
        assert read["scores"]["account_engagement"] < full["scores"]["account_engagement"]

    def test_a_mate_s_adjustment_counts_from_its_card(
        self, db: Database, account: dict[str, str]
    ) -> None:
        """B's engagement adjusted and B scored again: its current card, adjustment
        and all, is what the read takes."""
        with db.session() as session:
            lead = session.get(Lead, account["b"])
            assert lead is not None
            record_adjustment(
                session,
                lead=lead,
                group="engagement",
                points=-30.0,
                reason="bot traffic",
                actor="t",
                at=NOW,
            )
            score_leads(session, lead_ids=[account["b"]], model=MODEL, as_of=NOW)
        read, full = _both(db, account["a"])
        assert read == full
        with db.session() as session:
            _spoil(session, account["b"])
        spoiled, _ = _both(db, account["a"])
        assert spoiled["scores"]["account_engagement"] < read["scores"]["account_engagement"]

    @pytest.mark.parametrize("writer", ["score_leads", "score_all", "ingest"])
    def test_every_writer_stores_cards_a_read_can_take(
        self, db: Database, unscored: dict[str, str], writer: str
    ) -> None:
        """A mate's card written (with its digest) by each scoring path, promotions
        included, is taken: its spoiled copy shows through."""
        with db.session() as session:
            if writer == "score_leads":
                score_leads(session, lead_ids=[unscored["b"]], model=MODEL, as_of=NOW)
            elif writer == "score_all":
                score_all(session, model=MODEL, as_of=NOW)
            else:
                event = EventCreate(
                    event_id="ingested", lead_id=unscored["c"], type="email.opened", occurred_at=NOW
                )
                ingest_events(session, events=[event], model=MODEL, now=NOW, live=LiveLeads(MODEL))
        with db.session() as session:
            stages = {lead.stage for lead in session.scalars(select(Lead))}
            _spoil(session, unscored["b"])
        assert stages == {Stage.MQL.value}  # every lead was promoted on the way
        read, full = _both(db, unscored["a"])
        assert read["scores"]["account_engagement"] < full["scores"]["account_engagement"]

    @pytest.mark.parametrize(
        "change",
        [
            "a new event",
            "an event dated after the card",
            "the lead edited",
            "a stage change",
            "the account edited",
            "a prediction",
            "another model version",
            "a card from before the digest",
            "a card missing a counted event",
        ],
    )
    def test_an_out_of_date_card_is_read_from_the_events(
        self, db: Database, account: dict[str, str], change: str
    ) -> None:
        b = account["b"]
        model = MODEL
        with db.session() as session:
            _spoil(session, b)
            later = NOW + timedelta(hours=1)
            changes: dict[str, Callable[[], Any]] = {
                "a new event": lambda: insert_event_rows(
                    session, rows=_events(b, "late", [0]), received_at=later
                ),
                "the lead edited": lambda: session.execute(
                    update(Lead).where(Lead.id == b).values(updated_at=later)
                ),
                "a stage change": lambda: change_stage(
                    session,
                    lead=session.get(Lead, b),
                    to=Stage.NURTURE,
                    actor="t",
                    at=later,
                    reason="not now",
                ),
                "the account edited": lambda: session.execute(
                    update(Account).values(updated_at=later)
                ),
                "a prediction": lambda: add_predictions(session, {b: 0.7}, at=later),
                "a card from before the digest": lambda: session.execute(
                    update(StoredScorecard)
                    .where(StoredScorecard.lead_id == b)
                    .values(inputs_digest=None)
                ),
            }
            if change == "an event dated after the card":
                # stored before the card was computed, dated after its instant: the
                # card's digest then covers it, but it did not count it
                rows = [(f"future-{b}", b, "email.opened", NOW + timedelta(days=1), None, None, {})]
                insert_event_rows(session, rows=rows, received_at=NOW)
                session.flush()
                _, _, digests = evaluate_to_store(session, lead_ids=[b], model=MODEL, as_of=NOW)
                session.execute(
                    update(StoredScorecard)
                    .where(StoredScorecard.lead_id == b)
                    .values(inputs_digest=digests[b])
                )
            elif change == "another model version":
                model = replace(MODEL, version=MODEL.version + 1)
            elif change == "a card missing a counted event":
                card = session.get(StoredScorecard, b)
                assert card is not None and card.counted_events is not None
                counted = orjson.loads(card.counted_events)
                counted["open"][1].pop()
                card.counted_events = orjson.dumps(counted).decode()
            else:
                changes[change]()
        read, full = _both(db, account["a"], model)
        assert read == full
