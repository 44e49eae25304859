"""Qualifying on each event gives what the pure evaluator computes from the full history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from leadgate.accounts.models import Account
from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.db.engine import Database
from leadgate.events.models import Event
from leadgate.events.schemas import EventCreate
from leadgate.ingest import ingest_events
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.scorecards.models import StoredScorecard
from leadgate.scorecards.service import evaluate_leads
from leadgate.scoring import load_model

MODEL = load_model(
    """
version: 1
name: incremental
groups:
  engagement:
    half_life_days: 7
    rules:
      - {id: click, event: email.clicked, points: 15}
      - {id: pricing, event: page.viewed, points: 25, max_count: 2, within_days: 20}
      - {id: unsub, event: email.unsubscribed, points: -30, half_life_days: 3}
  team:
    rollup: {from: engagement, how: sum}
mql:
  any:
    - {score: engagement, gte: 45}
    - {score: team, gte: 70}
"""
)
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
LEADS = ("a1@one.cz", "a2@one.cz", "b1@two.cz", "c@gmail.com")
STEPS = st.lists(
    st.tuples(
        st.sampled_from(LEADS),
        st.sampled_from(["email.clicked", "page.viewed", "email.unsubscribed"]),
        st.floats(0, 3),  # days between requests
        st.floats(0, 10),  # how long before the request the event happened
    ),
    min_size=1,
    max_size=25,
)


def _reset(db: Database) -> dict[str, str]:
    with db.session() as session:
        for table in (StoredScorecard, StageChange, Event, Lead, Account):
            session.execute(delete(table))
        upsert_account(session, data=AccountCreate(domain="one.cz"), now=START)
        ids = {}
        for email in LEADS:
            lead, _ = upsert_lead(session, data=LeadCreate(email=email), now=START)
            ids[email] = lead.id
    return ids


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
def test_stored_results_equal_the_evaluator_on_the_full_history(
    db: Database, steps: list[tuple[str, str, float, float]]
) -> None:
    ids = _reset(db)
    now = START
    ever_mql: set[str] = set()
    for index, (email, kind, gap, age) in enumerate(steps):
        now += timedelta(days=gap, seconds=1)
        with db.session() as session:
            event = EventCreate(
                event_id=f"e{index}",
                email=email,
                type=kind,
                occurred_at=max(START, now - timedelta(days=age)),
            )
            ingest_events(session, events=[event], model=MODEL, now=now)
            # the pure evaluator on the full history, at this instant, for every lead
            _, cards = evaluate_leads(session, lead_ids=list(ids.values()), model=MODEL, as_of=now)
            ever_mql |= {
                card.lead_id
                for card in cards
                if card.mql and card.lead_id in _touched(session, email, ids)
            }
    with db.session() as session:
        stored = {row.lead_id: row for row in session.scalars(select(StoredScorecard))}
        stages = {lead.id: lead.stage for lead in session.scalars(select(Lead))}
        for lead_id, row in stored.items():
            _, cards = evaluate_leads(session, lead_ids=[lead_id], model=MODEL, as_of=row.as_of)
            card = next(c for c in cards if c.lead_id == lead_id)
            assert row.scores == card.scores
            assert row.mql == card.mql
    assert {lead for lead, stage in stages.items() if stage == "mql"} == ever_mql


def _touched(session: object, email: str, ids: dict[str, str]) -> set[str]:
    """The leads a request re-scores: the lead, and its account mates (roll-up)."""
    if email.endswith("@one.cz"):
        return {ids["a1@one.cz"], ids["a2@one.cz"]}
    return {ids[email]}
