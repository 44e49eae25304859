"""The writer takes its kept leads on trust while no other connection has committed,
and only then.

Between the service's requests, other writers change leads through connections of
their own (a new country, which a rule reads; an event stored
through leadgate behind the service's back; a recycle to nurture; a score
adjustment made or revoked), and the service's own Segment identify changes a
lead's country. Every stored scorecard
must still be the evaluator's on the full, current history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from leadgate.actions.playbooks import default_playbooks
from leadgate.api.deps import ServiceState
from leadgate.common.ids import utcnow
from leadgate.config import Settings
from leadgate.db.base import Base
from leadgate.db.engine import Database
from leadgate.events.schemas import EventCreate
from leadgate.events.service import record_event
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, find_lead, upsert_lead
from leadgate.qualification import adjust_score, revoke_adjustment
from leadgate.scorecards.models import ScoreAdjustment, StoredScorecard
from leadgate.scorecards.service import evaluate_leads
from leadgate.scoring import load_model
from tests.conftest import USING_POSTGRES

#: A local lead (CZ) with a click and a pricing visit qualifies (20 + 15 + 25 >= 55).
MODEL = load_model(
    """
version: 1
name: trust
groups:
  engagement:
    half_life_days: 7
    rules:
      - {id: click, event: email.clicked, points: 15}
      - {id: pricing, event: page.viewed, points: 25, max_count: 1}
      - {id: local, when: {lead.country: {eq: CZ}}, points: 20}
mql: {score: engagement, gte: 55}
"""
)
LEADS = ("a@one.cz", "b@two.cz", "c@three.cz")
STEPS = st.lists(
    st.tuples(
        st.sampled_from(LEADS),
        st.sampled_from(["email.clicked", "page.viewed"]),
        # a change before the request: by another connection, or the service's identify
        st.sampled_from(
            [None, None, None, "country", "event", "recycle", "identify", "adjust", "revoke"]
        ),
    ),
    min_size=1,
    max_size=20,
)


def _reset(db: Database) -> dict[str, str]:
    """An empty database with the three leads (hypothesis reuses the test's database)."""
    with db.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in ("api_keys", "meta"):
                session.execute(delete(table))
        now = utcnow()
        return {
            email: upsert_lead(session, data=LeadCreate(email=email), now=now)[0].id
            for email in LEADS
        }


@pytest.fixture
def service(db: Database, database_url: str) -> Iterator[ServiceState]:
    state = ServiceState(
        settings=Settings(database_url=database_url),
        database=db,
        model=MODEL,
        event_names={},
        playbooks=default_playbooks(),
    )
    yield state
    state.reads.dispose()
    state.writes.dispose()


def _send(service: ServiceState, event: EventCreate) -> None:
    asyncio.run(service.writer.events([event], key_id="k"))


def _click(number: int, email: str, kind: str = "email.clicked") -> EventCreate:
    return EventCreate(event_id=f"e{number}", email=email, type=kind, occurred_at=utcnow())


def _stored_is_the_evaluators(db: Database, lead_id: str) -> None:
    with db.session() as session:
        row = session.get(StoredScorecard, lead_id)
        assert row is not None
        _, cards = evaluate_leads(session, lead_ids=[lead_id], model=MODEL, as_of=row.as_of)
        (card,) = (c for c in cards if c.lead_id == lead_id)
        assert (row.scores, row.mql) == (card.scores, card.mql)


def _adjust(db: Database, email: str, points: float = 30) -> int:
    """A score adjustment through the qualification service, on a connection of its own."""
    with db.session() as session:
        done = adjust_score(
            session,
            viewer=None,
            actor="user:rita@t.example",
            ref=email,
            group="engagement",
            points=points,
            reason="met at the fair",
            model=MODEL,
            handoff=None,
            now=utcnow(),
        )
        return done.adjustment.id


def _revoke_latest(db: Database, email: str) -> None:
    with db.session() as session:
        lead = find_lead(session, ref=email)
        assert lead is not None
        latest = session.scalars(
            select(ScoreAdjustment.id)
            .where(ScoreAdjustment.lead_id == lead.id, ScoreAdjustment.revoked_at.is_(None))
            .order_by(ScoreAdjustment.id.desc())
        ).first()
        if latest is not None:
            revoke_adjustment(
                session,
                viewer=None,
                actor="user:rita@t.example",
                ref=email,
                adjustment_id=latest,
                model=MODEL,
                handoff=None,
                now=utcnow(),
            )


def _flip_country(db: Database, email: str) -> None:
    with db.session() as session:
        lead = find_lead(session, ref=email)
        assert lead is not None
        country = "DE" if lead.country == "CZ" else "CZ"
        upsert_lead(session, data=LeadCreate(email=email, country=country), now=utcnow())


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
def test_stored_results_equal_the_evaluator_whatever_changed_in_between(
    db: Database, service: ServiceState, steps: list[tuple[str, str, str | None]]
) -> None:
    ids = _reset(db)
    service.live.clear()  # the database was emptied behind its back, as a restore would
    for index, (email, kind, change) in enumerate(steps):
        if change == "country":
            _flip_country(db, email)
        elif change == "event":
            with db.session() as session:
                record_event(session, data=_click(10_000 + index, email), received_at=utcnow())
        elif change == "recycle":
            with db.session() as session:
                lead = find_lead(session, ref=email)
                if lead is not None and lead.stage == "mql":
                    change_stage(
                        session, lead=lead, to="nurture", actor="key:s", at=utcnow(), reason="x"
                    )
        elif change == "identify":
            with db.session() as session:
                lead = find_lead(session, ref=email)
                country = "DE" if lead is not None and lead.country == "CZ" else "CZ"
            message = {
                "type": "identify",
                "messageId": f"i{index}",
                "traits": {"email": email, "country": country},
            }
            asyncio.run(service.writer.segment([message], key_id="k"))
        elif change == "adjust":
            _adjust(db, email, points=-20 if index % 2 else 30)
        elif change == "revoke":
            _revoke_latest(db, email)
        _send(service, _click(index, email, kind))
        _stored_is_the_evaluators(db, ids[email])


class TestTrust:
    def test_a_kept_lead_is_used_without_a_query_until_another_connection_commits(
        self, db: Database, service: ServiceState
    ) -> None:
        """On SQLite, requests with nothing committed in between take the lead from
        memory; a change committed elsewhere is seen by the next request, which
        checks the memory again (PostgreSQL always checks)."""
        ids = _reset(db)
        for number in range(3):
            _send(service, _click(number, "a@one.cz", "page.viewed"))
        assert service.live.trusted == (0 if USING_POSTGRES else 2)
        _flip_country(db, "a@one.cz")  # now CZ: the local rule counts
        _send(service, _click(3, "a@one.cz"))
        assert service.live.trusted == (0 if USING_POSTGRES else 2)
        with db.session() as session:
            stored = session.get(StoredScorecard, ids["a@one.cz"])
            assert stored is not None and stored.scores["engagement"] > 20 + 15 + 24
            assert session.scalar(select(Lead.stage).where(Lead.id == ids["a@one.cz"])) == "mql"
        _stored_is_the_evaluators(db, ids["a@one.cz"])

    def test_the_services_own_identify_is_seen_by_the_next_request(
        self, db: Database, service: ServiceState
    ) -> None:
        """A Segment identify in the writer's own transaction changes the lead: the next
        request does not take the kept lead on trust."""
        ids = _reset(db)
        _send(service, _click(0, "b@two.cz", "page.viewed"))
        message = {
            "type": "identify",
            "messageId": "i1",
            "traits": {"email": "b@two.cz", "country": "CZ"},
        }
        asyncio.run(service.writer.segment([message], key_id="k"))
        trusted = service.live.trusted
        _send(service, _click(1, "b@two.cz", "page.viewed"))
        assert service.live.trusted == trusted
        with db.session() as session:
            stored = session.get(StoredScorecard, ids["b@two.cz"])
            assert stored is not None and stored.scores["engagement"] > 20 + 24

    def test_an_adjustment_made_elsewhere_is_in_the_next_requests_score(
        self, db: Database, service: ServiceState
    ) -> None:
        """A kept lead is reloaded when a score adjustment is made or revoked through
        another connection (the REST API, the CLI): the next request scores with it."""
        ids = _reset(db)
        _send(service, _click(0, "c@three.cz", "page.viewed"))
        _send(service, _click(1, "c@three.cz", "page.viewed"))
        loads = service.live.loads
        number = _adjust(db, "c@three.cz", 31)
        _send(service, _click(2, "c@three.cz", "page.viewed"))
        assert service.live.loads == loads + 1  # its kept record was dropped and read again
        with db.session() as session:
            stored = session.get(StoredScorecard, ids["c@three.cz"])
            assert stored is not None and 31 + 24 < stored.scores["engagement"] <= 31 + 25
            assert session.scalar(select(Lead.stage).where(Lead.id == ids["c@three.cz"])) == "mql"
        _revoke_latest(db, "c@three.cz")
        _send(service, _click(3, "c@three.cz", "page.viewed"))
        with db.session() as session:
            stored = session.get(StoredScorecard, ids["c@three.cz"])
            assert stored is not None and stored.scores["engagement"] <= 25
            lines = [rule["rule_id"] for rule in stored.breakdown["rules"]]
            assert f"adjustment:{number}" not in lines
        _stored_is_the_evaluators(db, ids["c@three.cz"])
