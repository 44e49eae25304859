"""Training on the stored history: point in time, stored versions, reasons, scorecards, MQL use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from leadgate.cli import app
from leadgate.db.engine import Database
from leadgate.demo.runner import build_demo
from leadgate.events.schemas import EventCreate
from leadgate.events.service import record_event
from leadgate.exceptions import LeadgateError
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, upsert_lead
from leadgate.predictive.features import build_features, outcome_labels
from leadgate.predictive.models import Prediction
from leadgate.predictive.training import load_model, score_leads, train_model
from leadgate.scorecards.service import score_all
from leadgate.scoring import load_model as load_scoring_model

END = datetime(2026, 11, 24, tzinfo=UTC)
CUTOFF = END - timedelta(days=75)


@pytest.fixture
def history(database_url: str) -> str:
    """A demo world with enough sales outcomes to learn from, in the per-test database."""
    build_demo(url=database_url, leads=5000, accounts=600, end=END)
    return database_url


class TestFeatures:
    def test_features_ignore_the_future(self, history: str, db: Database) -> None:
        """Nothing after as_of leaks in: no later leads, no later events."""
        with db.session() as session:
            early = build_features(session, as_of=CUTOFF)
            late = build_features(session, as_of=END)
        assert len(early.frame) < len(late.frame)
        column = "email.opened|count_90d"
        shared = early.frame.index.intersection(late.frame.index)
        assert (early.frame.loc[shared, column] <= late.frame.loc[shared, column] + 1e9).all()
        assert early.frame["lead_age_days"].min() >= 0

    def test_rows_come_in_lead_id_order_whatever_the_storage_order(self, db: Database) -> None:
        """The frame's row order feeds the split and the boosting, so it must not be the
        table's physical order (insertion order here; PostgreSQL also moves updated rows)."""
        with db.session() as session:
            for number in (5, 3, 9, 1, 7):
                upsert_lead(
                    session,
                    data=LeadCreate(id=f"L{number}", email=f"l{number}@acme.cz"),
                    now=CUTOFF,
                )
        with db.session() as session:
            frame = build_features(session, as_of=END).frame
        assert list(frame.index) == ["L1", "L3", "L5", "L7", "L9"]

    def test_a_recycled_lead_counts_only_what_it_did_after(self, db: Database) -> None:
        """Features count the events scoring counts at that instant: while a lead sits
        in nurture, nothing before it was recycled (read from the stage history)."""
        recycled = CUTOFF + timedelta(days=10)
        with db.session() as session:
            lead, _ = upsert_lead(session, data=LeadCreate(id="R", email="r@acme.cz"), now=CUTOFF)
            for day in (1, 2, 3, 20):
                record_event(
                    session,
                    data=EventCreate(
                        lead_id="R",
                        type="email.opened",
                        occurred_at=CUTOFF + timedelta(days=day),
                    ),
                    received_at=CUTOFF,
                )
            change_stage(session, lead=lead, to="mql", actor="t", at=CUTOFF + timedelta(days=5))
            change_stage(session, lead=lead, to="nurture", actor="t", at=recycled)
        column = "email.opened|count_90d"
        with db.session() as session:
            before = build_features(session, as_of=recycled - timedelta(hours=1))
            inside = build_features(session, as_of=recycled + timedelta(days=15))
        assert before.frame.loc["R", column] == 3  # in mql then: everything counts
        assert inside.frame.loc["R", column] == 1  # in nurture: day 20's open only

    def test_labels_exclude_leads_converted_before_as_of(self, history: str, db: Database) -> None:
        with db.session() as session:
            before, after = outcome_labels(session, outcome="sql", as_of=CUTOFF, until=END)
        assert after and not (before & after)


class TestTrainAndScore:
    def test_train_store_score_explain_and_use_in_mql(
        self, history: str, db: Database, cli: CliRunner, tmp_path: Path
    ) -> None:
        with db.session() as session:
            result = train_model(session, outcome="sql", as_of=CUTOFF, until=END, seed=3)
        assert result.label == "predicted-sql@v1"
        assert result.metrics["positives"] >= 10
        assert 0.5 < result.metrics["holdout"]["roc_auc"] <= 1.0
        with db.session() as session:
            again = train_model(session, outcome="sql", as_of=CUTOFF, until=END, seed=3)
            assert again.label == "predicted-sql@v2"
            assert again.metrics["holdout"] == result.metrics["holdout"]  # same seed, same numbers
            model = load_model(session)
            assert model.label == "predicted-sql@v2"
            scored = score_leads(session, model=model, as_of=END, explain_limit=100)
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Prediction)) == scored == 5000
            # the most likely lead as the scorer ranks them: ties (calibration plateaus)
            # in lead id order, as its stable sort keeps them
            best = session.scalars(
                select(Prediction).order_by(Prediction.probability.desc(), Prediction.lead_id)
            ).first()
            assert best is not None and 0 < best.probability <= 1
            assert best.factors["model"] == "predicted-sql@v2"
            assert best.factors["up"], "the most likely lead has reasons pushing it up"
            lead_id = best.lead_id
        shown = json.loads(cli.invoke(app, ["explain", lead_id, "--json"]).stdout)
        assert shown["prediction"]["probability"] == pytest.approx(best.probability)
        text = cli.invoke(app, ["explain", lead_id]).output
        assert "predicted probability of converting" in text
        # reasons are stored for the 100 most likely leads; others get them on demand
        with db.session() as session:
            worst = session.scalars(select(Prediction).order_by(Prediction.probability)).first()
            assert worst is not None and worst.factors["stored"] is False
            worst_id = worst.lead_id
        on_demand = json.loads(cli.invoke(app, ["explain", worst_id, "--json"]).stdout)
        assert on_demand["prediction"]["stored"] == "computed on demand"
        assert on_demand["prediction"]["up"] or on_demand["prediction"]["down"]
        # the MQL definition can use the prediction
        model_file = tmp_path / "predicted.yaml"
        model_file.write_text(
            "version: 1\nname: predicted-mql\ngroups:\n  engagement:\n    rules:\n"
            "      - {id: any, event: email.opened, points: 1}\n"
            f"mql: {{predicted: {{gte: {best.probability}}}}}\n",
            encoding="utf-8",
        )
        scoring = load_scoring_model(model_file.read_text(encoding="utf-8"))
        with db.session() as session:
            run = score_all(session, model=scoring, as_of=END)
        assert run.mql_verdicts >= 1
        assert all(q.scorecard.checks[0].check.startswith("predicted >=") for q in run.qualified)

    def test_too_little_history_is_a_clear_error(self, db: Database) -> None:
        with db.session() as session, pytest.raises(LeadgateError, match="not enough history"):
            train_model(session, outcome="sql", as_of=CUTOFF, until=END)

    def test_unknown_outcome(self, db: Database) -> None:
        with db.session() as session, pytest.raises(LeadgateError, match="unknown outcome"):
            train_model(session, outcome="won", as_of=CUTOFF, until=END)


class TestScorecard:
    def test_scorecard_is_a_valid_model_that_runs_in_the_rule_engine(
        self, history: str, cli: CliRunner, tmp_path: Path
    ) -> None:
        out = tmp_path / "learned.yaml"
        result = cli.invoke(
            app,
            [
                "predict",
                "scorecard",
                "--out",
                str(out),
                "--as-of",
                CUTOFF.isoformat(),
                "--mql-rate",
                "0.05",
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["rules"] >= 1
        assert 0 < payload["holdout_roc_auc_scorecard"] <= 1
        assert payload["auc_given_up"] == pytest.approx(
            payload["holdout_roc_auc_boosted"] - payload["holdout_roc_auc_scorecard"], abs=1e-3
        )
        assert cli.invoke(app, ["model", "check", str(out)]).exit_code == 0
        text = out.read_text(encoding="utf-8")
        assert "mql:" in text and "points:" in text
        refused = cli.invoke(app, ["predict", "scorecard", "--out", str(out)])
        assert refused.exit_code == 2 and "exists" in refused.output

    def test_engagement_points_are_never_negative_except_disinterest(
        self, history: str, db: Database
    ) -> None:
        from leadgate.predictive.scorecard import fit_scorecard
        from leadgate.scoring.nodes import EventRule

        with db.session() as session:
            result = fit_scorecard(session, outcome="sql", as_of=CUTOFF, until=END)
        for rule in result.model.rules:
            if isinstance(rule, EventRule) and "unsubscribed" not in rule.event_types[0]:
                assert rule.points > 0, rule
