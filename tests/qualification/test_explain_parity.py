"""`leadgate explain` recomputes exactly what was stored: on the demo world, every
lead's scorecard recomputed at its stored instant equals the stored one, recycled
leads and account roll-ups included."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from leadgate.actions.playbooks import default_playbooks
from leadgate.cli import app
from leadgate.db.engine import Database, open_database
from leadgate.demo.runner import build_demo
from leadgate.events.schemas import EventCreate
from leadgate.events.service import record_event
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.lifecycle import Stage
from leadgate.qualification import HandoffPolicy, enter_stage, explain_lead, qualify_leads
from leadgate.scorecards.models import Prediction, StoredScorecard
from leadgate.scoring import default_model, load_model
from tests.factories import add_predictions

END = datetime(2026, 11, 24, 9, tzinfo=UTC)


def _same_card(stored: dict[str, Any], fresh: dict[str, Any]) -> None:
    assert fresh["mql"] == stored["mql"], (stored["lead_id"], stored["scores"], fresh["scores"])
    assert fresh["grade"] == stored["grade"]
    assert fresh["scores"].keys() == stored["scores"].keys()
    for group, value in stored["scores"].items():
        assert math.isclose(fresh["scores"][group], value, rel_tol=1e-9, abs_tol=1e-9), group


@pytest.fixture
def demo(database_url: str) -> Iterator[Database]:
    """The demo world, built on this test's database (opened after the build: the
    build starts from a fresh file)."""
    build_demo(url=database_url, seed=7, leads=300, accounts=50, days=120, end=END)
    database = open_database(database_url)
    yield database
    database.dispose()


class TestExplainAgreesWithTheStoredScorecard:
    def test_every_demo_lead_recomputes_to_its_stored_card(self, demo: Database) -> None:
        model = default_model()
        with demo.session() as session:
            stored = session.scalars(select(StoredScorecard)).all()
            stages = {row.id: row.stage for row in session.execute(select(Lead.id, Lead.stage))}
            back_from_nurture = set(
                session.scalars(
                    select(StageChange.lead_id).where(
                        StageChange.from_stage == Stage.NURTURE.value,
                        StageChange.to_stage == Stage.MQL.value,
                        StageChange.at == END,  # moved by the demo's final scoring run
                    )
                )
            )
            assert len(stored) == len(stages) == 300
            # the world has what broke explain before: recycled leads, in nurture and back
            assert sum(stage == Stage.NURTURE.value for stage in stages.values()) >= 5
            assert back_from_nurture
            for row in stored:
                fresh = explain_lead(session, lead_id=row.lead_id, model=model, as_of=row.as_of)
                _same_card(row.breakdown, fresh.to_dict())

    def test_the_cli_agrees_for_a_recycled_lead(self, demo: Database, cli: CliRunner) -> None:
        with demo.session() as session:
            lead_id = session.scalars(
                select(Lead.id).where(Lead.stage == Stage.NURTURE.value).order_by(Lead.id)
            ).first()
        assert lead_id is not None
        stored = json.loads(cli.invoke(app, ["explain", lead_id, "--json"]).stdout)
        assert stored["source"] == "stored"
        as_of = stored["scorecard"]["as_of"]
        result = cli.invoke(app, ["explain", lead_id, "--as-of", as_of, "--json"])
        assert result.exit_code == 0, result.output
        computed = json.loads(result.stdout)
        assert computed["source"] == "computed"
        _same_card(stored["scorecard"], computed["scorecard"])

    def test_recycling_a_lead_rescores_it_at_once(self, demo: Database) -> None:
        """Sent back to nurture, a lead's stored score starts over at that instant."""
        model = default_model()
        policy = HandoffPolicy(playbooks=default_playbooks(), fallback_owner="queue:test")
        when = END.replace(hour=12)
        with demo.session() as session:
            lead = session.scalars(
                select(Lead).where(Lead.stage == Stage.MQL.value).order_by(Lead.id)
            ).first()
            assert lead is not None
            before = session.get(StoredScorecard, lead.id)
            assert before is not None and before.mql
            enter_stage(
                session,
                lead=lead,
                to=Stage.NURTURE,
                actor="rep@us.example",
                at=when,
                reason="bad timing",
                model=model,
                handoff=policy,
            )
        with demo.session() as session:
            after = session.get(StoredScorecard, lead.id)
            assert after is not None and after.as_of == when and not after.mql
            fresh = explain_lead(session, lead_id=lead.id, model=model, as_of=when)
            _same_card(after.breakdown, fresh.to_dict())
        # sales takes it back by hand: its whole history counts again, stored at once
        back = when.replace(hour=13)
        with demo.session() as session:
            moved = session.get(Lead, lead.id)
            assert moved is not None
            enter_stage(
                session,
                lead=moved,
                to=Stage.MQL,
                actor="rep@us.example",
                at=back,
                reason=None,
                model=model,
                handoff=policy,
            )
        with demo.session() as session:
            again = session.get(StoredScorecard, lead.id)
            assert again is not None and again.as_of == back
            assert again.scores["engagement"] > after.scores["engagement"]  # it counts again
            fresh = explain_lead(session, lead_id=lead.id, model=model, as_of=back)
            _same_card(again.breakdown, fresh.to_dict())


PREDICTED_MODEL = """
version: 1
name: predicted
groups:
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 30}
mql:
  all:
    - {predicted: {gte: 0.5}}
    - {score: engagement, gte: 20}
"""


class TestTheRecordedPrediction:
    def test_a_recomputation_at_the_stored_instant_uses_the_prediction_it_recorded(
        self, db: Database
    ) -> None:
        model = load_model(PREDICTED_MODEL)
        with db.session() as session:
            lead, _ = upsert_lead(session, data=LeadCreate(email="p@acme.cz"), now=END)
            record_event(
                session,
                data=EventCreate(email="p@acme.cz", type="email.clicked", occurred_at=END),
                received_at=END,
            )
            add_predictions(session, {lead.id: 0.8}, at=END)
        scored_at = END.replace(hour=10)
        with db.session() as session:
            cards, _ = qualify_leads(
                session, lead_ids=[lead.id], model=model, as_of=scored_at, handoff=None
            )
            assert cards[0].mql and cards[0].predicted == 0.8
        with db.session() as session:  # a newer prediction arrives after the scoring
            prediction = session.get(Prediction, lead.id)
            assert prediction is not None
            prediction.probability = 0.1
        with db.session() as session:
            stored = session.get(StoredScorecard, lead.id)
            assert stored is not None and stored.breakdown["predicted"] == 0.8
            again = explain_lead(session, lead_id=lead.id, model=model, as_of=scored_at)
            assert again.to_dict() == stored.breakdown
            later = explain_lead(
                session, lead_id=lead.id, model=model, as_of=scored_at.replace(hour=11)
            )
            assert later.predicted == 0.1 and not later.mql
