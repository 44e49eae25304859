"""Rescoring the stored leads through the compiled query agrees with ``score_all``
(the pure evaluator), shows its diff, and applies stage changes with history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from leadgate.cli import app
from leadgate.db.engine import Database, open_database
from leadgate.demo.runner import build_demo
from leadgate.exceptions import LeadgateError
from leadgate.leads.models import Lead, StageChange
from leadgate.lifecycle import Stage
from leadgate.rescoring import apply_plan, plan_rescore
from leadgate.rescoring.service import score_stored
from leadgate.scorecards.adjustments import mark_revoked, record_adjustment
from leadgate.scorecards.service import evaluate_leads, score_all
from leadgate.scoring import ScoringModel, load_model, load_model_file
from tests.conftest import REPO

END = datetime(2026, 11, 24, tzinfo=UTC)
AS_OF = END + timedelta(hours=6)

#: Fit from custom attributes and the predicted probability, engagement from events.
ATTRIBUTE_MODEL = {
    "version": 2,
    "name": "attributes",
    "groups": {
        "fit": {
            "rules": [
                {
                    "id": "segment",
                    "when": {"lead.attributes.segment": {"eq": "enterprise"}},
                    "points": 30,
                },
                {"id": "rating", "when": {"account.attributes.rating": {"gte": 4}}, "points": 20},
                {
                    "id": "free-mail",
                    "when": {"lead.email_domain": {"in_list": "free_mail"}},
                    "points": -20,
                },
            ]
        },
        "engagement": {
            "half_life_days": 21,
            "rules": [
                {"id": "opens", "event": "email.opened", "points": 5, "max_count": 4},
                {
                    "id": "pricing",
                    "event": "page.viewed",
                    "where": {"properties.url": {"contains": "pricing"}},
                    "points": 20,
                },
                {"id": "webinar", "event": "webinar.attended", "points": 25},
            ],
        },
    },
    "grades": {"A": 40, "B": 20},
    "mql": {
        "any": [
            {"all": [{"score": "engagement", "gte": 35}, {"grade": ["A", "B"]}]},
            {"predicted": {"gte": 0.8}},
        ]
    },
}


@pytest.fixture
def demo_db(database_url: str) -> Iterator[tuple[str, Database]]:
    """A small demo world with custom attributes and predictions on some leads."""
    build_demo(url=database_url, leads=500, accounts=70, end=END)
    db = open_database(database_url)
    with db.session() as session:
        ids = session.scalars(select(Lead.id).order_by(Lead.id)).all()
        for index, lead_id in enumerate(ids):
            if index % 3 == 0:
                segment = "enterprise" if index % 2 == 0 else "smb"
                session.execute(
                    update(Lead).where(Lead.id == lead_id).values(attributes={"segment": segment})
                )
    yield database_url, db
    db.dispose()


def _evaluator_run(db: Database, model: ScoringModel, as_of: datetime) -> Any:
    """What ``score_all`` (the pure evaluator) decides, rolled back afterwards."""
    with db.sessions() as session:
        session.begin()
        run = score_all(session, model=model, as_of=as_of)
        session.rollback()
    return run


def _history_count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(StageChange)) or 0)


class TestPlan:
    @pytest.mark.parametrize(
        "model_name", ["attributes", "a-newsletter-cta-pricing", "c-webinar-then-pricing"]
    )
    def test_verdicts_match_score_all(self, demo_db: tuple[str, Database], model_name: str) -> None:
        """Same MQL verdicts, same grades, same leads moved as the evaluator's run."""
        url, db = demo_db
        if model_name == "attributes":
            model = load_model(yaml.safe_dump(ATTRIBUTE_MODEL))
        else:
            model = load_model_file(REPO / "examples" / "models" / f"{model_name}.yaml")
        expected = _evaluator_run(db, model, AS_OF)
        plan = plan_rescore(url, model=model, as_of=AS_OF)
        assert plan.leads == expected.leads == 500
        assert plan.mql_verdicts == expected.mql_verdicts
        assert plan.grades == expected.grades
        assert {c.lead_id for c in plan.enter} == {q.lead_id for q in expected.qualified}
        assert plan.not_moved_stale == expected.not_moved_stale
        assert plan.enter, "the fixture should qualify someone, or the test proves nothing"

    def test_a_recycled_lead_counts_only_what_it_did_since(
        self, demo_db: tuple[str, Database]
    ) -> None:
        """Nurture leads are scored on events after recycling, as the evaluator does."""
        url, db = demo_db
        model = load_model(yaml.safe_dump(ATTRIBUTE_MODEL))
        with db.session() as session:
            busy = session.scalars(
                select(Lead).where(Lead.stage.in_(["lead", "subscriber"])).order_by(Lead.id)
            ).all()
        before = plan_rescore(url, model=model, as_of=AS_OF)
        qualified = {c.lead_id for c in before.enter}
        target = next(lead for lead in busy if lead.id in qualified)
        with db.session() as session:
            session.execute(
                update(Lead)
                .where(Lead.id == target.id)
                .values(stage=Stage.NURTURE.value, stage_changed_at=AS_OF - timedelta(minutes=1))
            )
        after = plan_rescore(url, model=model, as_of=AS_OF)
        assert target.id not in {c.lead_id for c in after.enter}
        assert after.mql_verdicts == _evaluator_run(db, model, AS_OF).mql_verdicts

    def test_score_adjustments_count_as_the_evaluator_counts_them(
        self, demo_db: tuple[str, Database]
    ) -> None:
        """Adjustments made, revoked, made after the instant, and around a nurture lead's
        recycling: the compiled query's scores are the evaluator's, lead for lead."""
        url, db = demo_db
        model = load_model(yaml.safe_dump(ATTRIBUTE_MODEL))
        with db.session() as session:
            leads = session.scalars(select(Lead).order_by(Lead.id)).all()
            nurture = [lead for lead in leads if lead.stage == Stage.NURTURE.value][:3]
            for index, lead in enumerate([*leads[:30], *nurture]):
                if lead.stage == Stage.NURTURE.value:
                    at = lead.stage_changed_at + timedelta(hours=index % 3 - 1)
                else:
                    at = AS_OF - timedelta(days=index - 2)  # two are still to come
                row = record_adjustment(
                    session,
                    lead=lead,
                    group=("fit", "engagement")[index % 2],
                    points=(index % 7 + 1) * 10.0 * (-1) ** index,
                    reason="trade fair",
                    actor="user:x",
                    at=at,
                )
                if index % 5 == 0:
                    until = at + timedelta(hours=index)
                    mark_revoked(session, lead=lead, adjustment_id=row.id, actor="u", at=until)
        compiled = {
            row["lead_id"]: row
            for row in score_stored(url, model=model, as_of=AS_OF).scored.to_pylist()
        }
        with db.session() as session:
            _, cards = evaluate_leads(
                session, lead_ids=[lead.id for lead in leads], model=model, as_of=AS_OF
            )
        adjusted = 0
        for card in cards:
            row = compiled[card.lead_id]
            for group, value in card.scores.items():
                assert row[group] == pytest.approx(value, rel=1e-9, abs=1e-9), (card, group)
            assert (row["grade"], row["mql"]) == (card.grade, card.mql)
            adjusted += any(rule.kind == "adjustment" for rule in card.rules)
        assert 20 < adjusted < 33  # the revoked, the future and a recycled lead's are out

    def test_mixed_attribute_types_are_refused_by_name(self, demo_db: tuple[str, Database]) -> None:
        url, db = demo_db
        with db.session() as session:
            first = session.scalars(select(Lead.id).order_by(Lead.id)).first()
            session.execute(update(Lead).where(Lead.id == first).values(attributes={"segment": 7}))
        model = load_model(yaml.safe_dump(ATTRIBUTE_MODEL))
        with pytest.raises(LeadgateError, match=r"lead attribute 'segment'.*several types"):
            plan_rescore(url, model=model, as_of=AS_OF)


class TestApply:
    def test_moves_leads_with_history_once(self, demo_db: tuple[str, Database]) -> None:
        url, db = demo_db
        model = load_model(yaml.safe_dump(ATTRIBUTE_MODEL))
        plan = plan_rescore(url, model=model, as_of=AS_OF)
        history_before = _history_count(db)
        with db.session() as session:
            applied = apply_plan(session, plan)
        assert applied == {"moved_to_mql": len(plan.enter)}
        assert _history_count(db) == history_before + len(plan.enter)
        with db.session() as session:
            lead = session.get(Lead, plan.enter[0].lead_id)
            assert lead is not None and lead.stage == "mql" and lead.stage_changed_at == AS_OF
            change = session.scalars(
                select(StageChange)
                .where(StageChange.lead_id == lead.id)
                .order_by(StageChange.id.desc())
            ).first()
            assert change is not None
            assert change.actor == "system:attributes@v2"
            assert change.reason is not None and "bulk rescore" in change.reason
        assert plan_rescore(url, model=model, as_of=AS_OF).enter == []

    def test_a_lead_changed_since_the_plan_is_skipped(self, demo_db: tuple[str, Database]) -> None:
        url, db = demo_db
        model = load_model(yaml.safe_dump(ATTRIBUTE_MODEL))
        plan = plan_rescore(url, model=model, as_of=AS_OF)
        moved = plan.enter[0].lead_id
        with db.session() as session:
            session.execute(
                update(Lead).where(Lead.id == moved).values(stage=Stage.DISQUALIFIED.value)
            )
        with db.session() as session:
            applied = apply_plan(session, plan)
            assert session.get(Lead, moved).stage == "disqualified"  # type: ignore[union-attr]
        assert applied["skipped_changed_since"] == 1

    def test_a_lead_moved_away_and_back_since_the_plan_is_skipped(
        self, demo_db: tuple[str, Database]
    ) -> None:
        """Same stage as in the plan, but a newer stage change: someone acted on it."""
        url, db = demo_db
        model = load_model(yaml.safe_dump(ATTRIBUTE_MODEL))
        plan = plan_rescore(url, model=model, as_of=AS_OF)
        moved = plan.enter[0]
        with db.session() as session:
            session.execute(
                update(Lead)
                .where(Lead.id == moved.lead_id)
                .values(stage_changed_at=moved.stage_changed_at + timedelta(seconds=1))
            )
        with db.session() as session:
            applied = apply_plan(session, plan)
            assert session.get(Lead, moved.lead_id).stage == moved.from_stage  # type: ignore[union-attr]
        assert applied == {"skipped_changed_since": 1, "moved_to_mql": len(plan.enter) - 1}

    def test_demote_moves_mqls_that_no_longer_qualify(self, demo_db: tuple[str, Database]) -> None:
        url, db = demo_db
        strict = dict(ATTRIBUTE_MODEL, mql={"score": "engagement", "gte": 10_000})
        model = load_model(yaml.safe_dump(strict))
        with db.session() as session:
            mqls = set(session.scalars(select(Lead.id).where(Lead.stage == "mql")))
        assert mqls, "the demo world should hold MQLs"
        plan = plan_rescore(url, model=model, as_of=AS_OF)
        assert {c.lead_id for c in plan.leave} == mqls and plan.enter == []
        with db.session() as session:
            applied = apply_plan(session, plan, demote=False)
        assert applied == {}
        with db.session() as session:
            applied = apply_plan(session, plan, demote=True)
            stages = set(session.scalars(select(Lead.stage).where(Lead.id.in_(mqls))))
        assert applied == {"moved_to_nurture": len(mqls)} and stages == {"nurture"}


class TestCommand:
    def test_dry_run_shows_the_diff_and_changes_nothing(
        self, demo_db: tuple[str, Database], cli: CliRunner, tmp_path: Path
    ) -> None:
        _, db = demo_db
        model = tmp_path / "m.yaml"
        model.write_text(yaml.safe_dump(ATTRIBUTE_MODEL))
        before = _history_count(db)
        args = ["rescore", "--model", str(model), "--as-of", AS_OF.isoformat()]
        result = cli.invoke(app, [*args, "--dry-run", "--json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["applied"] is False and payload["would_enter_mql"] > 0
        assert sum(payload["enter_by_grade"].values()) == payload["would_enter_mql"]
        assert _history_count(db) == before
        refused = cli.invoke(app, [*args, "--json"])
        assert refused.exit_code == 2 and "--dry-run" in refused.stdout
        declined = cli.invoke(app, args, input="n\n")
        assert declined.exit_code == 1 and _history_count(db) == before
        applied = cli.invoke(app, [*args, "--yes", "--json"])
        assert applied.exit_code == 0, applied.output
        done = json.loads(applied.stdout)
        assert done["changes"]["moved_to_mql"] == payload["would_enter_mql"]
        assert _history_count(db) == before + payload["would_enter_mql"]

    def test_file_flags_are_checked(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["rescore", "--events", "e.parquet", "--json"])
        assert result.exit_code == 2
        assert "--leads" in json.loads(result.stdout)["error"]["message"]
