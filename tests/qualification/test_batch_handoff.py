"""Batch paths hand off like the service: `leadgate score` and `leadgate rescore --yes`
run the playbooks of every MQL entry once; --no-handoff records the skip, and
`leadgate handoff release` runs it later."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from leadgate.actions.models import ActionRun
from leadgate.cli import app
from leadgate.db.engine import Database
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.service import change_stage, find_lead
from leadgate.lifecycle import Stage
from leadgate.qualification import explain_lead
from leadgate.reps.service import RepIn, upsert_rep
from leadgate.scorecards.models import StoredScorecard
from leadgate.scoring import default_model
from leadgate.tasks.models import Task

HOT = "jana.novak@tatra.cz"


def _json(output: str) -> dict[str, Any]:
    value = json.loads(output)
    assert isinstance(value, dict)
    return value


def _ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


@pytest.fixture
def world(cli: CliRunner, db: Database, tmp_path: Path) -> CliRunner:
    """A hot lead at a Czech manufacturer, a student on free mail, and one rep."""
    files = {
        "accounts": "domain,name,industry,employees,country\n"
        "tatra.cz,Tatra Works,manufacturing,120,CZ\n",
        "leads": "email,first_name,seniority,channel\n"
        f"{HOT},Jana,director,organic_search\nstudent@gmail.com,Petr,student,display\n",
        "events": "event_id,email,type,occurred_at,url\n"
        f"e1,{HOT},email.opened,{_ago(50)},\n"
        f"e2,{HOT},email.clicked,{_ago(49.9)},\n"
        f"e3,{HOT},page.viewed,{_ago(20)},https://tatra.cz/pricing\n"
        f"e4,{HOT},webinar.attended,{_ago(10)},\n"
        f"e5,student@gmail.com,email.opened,{_ago(5)},\n",
    }
    for kind, text in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        result = cli.invoke(app, ["import", kind, str(path), "--json"])
        assert result.exit_code == 0, result.output
    with db.session() as session:
        upsert_rep(session, data=RepIn(email="rep@us.example", name="Rep"), now=datetime.now(UTC))
    return cli


def _hot(db: Database) -> dict[str, Any]:
    """The hot lead's stage, owner, open tasks, action runs and MQL entries."""
    with db.session() as session:
        lead = find_lead(session, ref=HOT)
        assert lead is not None
        tasks = session.scalars(select(Task).where(Task.lead_id == lead.id)).all()
        entries = session.scalars(
            select(StageChange).where(
                StageChange.lead_id == lead.id, StageChange.to_stage == Stage.MQL.value
            )
        ).all()
        runs = session.scalars(select(ActionRun.action).where(ActionRun.lead_id == lead.id)).all()
        return {
            "stage": lead.stage,
            "owner": lead.owner,
            "open_tasks": [t.owner for t in tasks if t.status == "open"],
            "runs": sorted(runs),
            "entries": [entry.handoff for entry in entries],
        }


class TestScoreHandsOff:
    def test_a_lead_qualified_by_score_has_an_owner_and_a_task(
        self, world: CliRunner, db: Database
    ) -> None:
        result = world.invoke(app, ["score", "--json"])
        assert result.exit_code == 0, result.output
        payload = _json(result.stdout)
        assert payload["moved_to_mql"] == 1
        assert payload["handed_off"] == 1 and payload["handoffs_skipped"] == 0
        assert payload["handoff_actions"] == {
            "owner.assign": 1,
            "task.create": 1,
            "webhook.send": 1,
        }
        hot = _hot(db)
        assert hot["stage"] == "mql"
        assert hot["owner"] == "rep@us.example"
        assert hot["open_tasks"] == ["rep@us.example"]
        assert hot["entries"] == [None]

    def test_scoring_again_hands_off_nothing_twice(self, world: CliRunner, db: Database) -> None:
        world.invoke(app, ["score"])
        first = _hot(db)
        again = _json(world.invoke(app, ["score", "--json"]).stdout)
        assert again["moved_to_mql"] == 0 and again["handed_off"] == 0
        assert _hot(db) == first

    def test_no_handoff_is_recorded_and_released_later(
        self, world: CliRunner, db: Database
    ) -> None:
        payload = _json(world.invoke(app, ["score", "--no-handoff", "--json"]).stdout)
        assert payload["moved_to_mql"] == 1 and payload["handoffs_skipped"] == 1
        hot = _hot(db)
        assert hot["stage"] == "mql" and hot["owner"] is None and hot["open_tasks"] == []
        assert hot["entries"] == ["skipped"] and hot["runs"] == []

        preview = _json(world.invoke(app, ["handoff", "release", "--dry-run", "--json"]).stdout)
        assert preview["released"] == 1
        assert preview["actions"] == {"owner.assign": 1, "task.create": 1, "webhook.send": 1}
        assert _hot(db) == hot  # a dry run writes nothing

        done = _json(world.invoke(app, ["handoff", "release", "--json"]).stdout)
        assert done["released"] == 1 and done["stale"] == 0
        released = _hot(db)
        assert released["owner"] == "rep@us.example"
        assert released["open_tasks"] == ["rep@us.example"]
        assert released["entries"] == ["released"]
        assert released["runs"] == ["owner.assign", "task.create", "webhook.send"]

        again = _json(world.invoke(app, ["handoff", "release", "--json"]).stdout)
        assert again["released"] == 0
        assert _hot(db) == released

    def test_a_skipped_entry_the_lead_has_left_is_stale(
        self, world: CliRunner, db: Database
    ) -> None:
        world.invoke(app, ["score", "--no-handoff"])
        with db.session() as session:
            lead = find_lead(session, ref=HOT)
            assert lead is not None
            change_stage(session, lead=lead, to=Stage.SAL, actor="rep", at=datetime.now(UTC))
        done = _json(world.invoke(app, ["handoff", "release", "--json"]).stdout)
        assert done["released"] == 0 and done["stale"] == 1
        hot = _hot(db)
        assert hot["open_tasks"] == [] and hot["runs"] == []

    def test_playbooks_come_from_the_environment_or_the_flag(
        self, world: CliRunner, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        playbooks = tmp_path / "playbooks.yaml"
        playbooks.write_text(
            "version: 1\nname: env\nplaybooks:\n  - id: call\n    on: mql\n    actions:\n"
            '      - task.create: {title: "Call {lead.email} now", due_in_minutes: 5}\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("LEADGATE_PLAYBOOKS_PATH", str(playbooks))
        assert world.invoke(app, ["score"]).exit_code == 0
        assert _hot(db)["runs"] == ["task.create"]
        with db.session() as session:
            task = session.scalars(select(Task)).one()
            assert task.title == f"Call {HOT} now"
            assert task.sla_seconds == 300
        broken = tmp_path / "broken.yaml"
        broken.write_text("version: 1\nname: x\nplaybooks: [{id: a, on: mql, actions: [nope.x]}]\n")
        result = world.invoke(app, ["score", "--playbooks", str(broken)])
        assert result.exit_code == 2 and "nope.x" in result.output

    def test_release_names_an_unknown_lead(self, world: CliRunner) -> None:
        result = world.invoke(app, ["handoff", "release", "--lead", "ghost@nowhere.cz"])
        assert result.exit_code == 2
        assert "ghost@nowhere.cz" in result.output


class TestRescoreHandsOff:
    def test_dry_run_counts_the_handoffs_and_changes_nothing(
        self, world: CliRunner, db: Database
    ) -> None:
        result = world.invoke(app, ["rescore", "--dry-run", "--json"])
        assert result.exit_code == 0, result.output
        payload = _json(result.stdout)
        assert payload["would_enter_mql"] == 1
        assert payload["handoff"] is True
        assert payload["would_hand_off"] == {
            "handoffs": 1,
            "actions": {"owner.assign": 1, "task.create": 1, "webhook.send": 1},
        }
        assert _hot(db)["stage"] == "lead"
        text = world.invoke(app, ["rescore", "--dry-run"])
        assert "1 handoff(s): owner.assign 1, task.create 1, webhook.send 1" in text.output

    def test_a_lead_qualified_by_rescore_has_an_owner_a_task_and_its_scorecard(
        self, world: CliRunner, db: Database
    ) -> None:
        result = world.invoke(app, ["rescore", "--yes", "--json"])
        assert result.exit_code == 0, result.output
        payload = _json(result.stdout)
        assert payload["handed_off"] == 1
        hot = _hot(db)
        assert hot["stage"] == "mql" and hot["owner"] == "rep@us.example"
        assert hot["open_tasks"] == ["rep@us.example"]
        with db.session() as session:
            lead = session.scalars(select(Lead).where(Lead.email_key == HOT)).one()
            stored = session.get(StoredScorecard, lead.id)
            assert stored is not None and stored.mql
            fresh = explain_lead(
                session, lead_id=lead.id, model=default_model(), as_of=stored.as_of
            )
            assert fresh.to_dict() == stored.breakdown
        # the same entry is never handed off twice, whichever path comes next
        world.invoke(app, ["score"])
        assert _hot(db)["runs"] == hot["runs"]

    def test_no_handoff_records_the_skip(self, world: CliRunner, db: Database) -> None:
        payload = _json(world.invoke(app, ["rescore", "--yes", "--no-handoff", "--json"]).stdout)
        assert payload["handoffs_skipped"] == 1 and payload["handed_off"] == 0
        hot = _hot(db)
        assert hot["stage"] == "mql" and hot["entries"] == ["skipped"] and hot["runs"] == []


class TestImportWithAStage:
    def _import(self, cli: CliRunner, tmp_path: Path, *flags: str) -> dict[str, Any]:
        path = tmp_path / "crm.csv"
        path.write_text(
            f"email,stage,stage_at\n{HOT},mql,2026-11-30T10:00:00Z\n"
            "won@acme.cz,customer,2026-10-01T10:00:00Z\n",
            encoding="utf-8",
        )
        result = cli.invoke(app, ["import", "leads", str(path), "--json", *flags])
        assert result.exit_code == 0, result.output
        return _json(result.stdout)

    def test_an_imported_stage_is_history_without_a_handoff(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        payload = self._import(cli, tmp_path)
        assert "handed_off" not in payload
        hot = _hot(db)
        assert hot["stage"] == "mql" and hot["owner"] is None and hot["runs"] == []

    def test_handoff_hands_off_the_imported_stage_once(
        self, cli: CliRunner, db: Database, tmp_path: Path
    ) -> None:
        assert self._import(cli, tmp_path, "--handoff")["handed_off"] == 2
        hot = _hot(db)
        assert hot["stage"] == "mql" and hot["owner"] == "queue:unassigned"
        assert hot["open_tasks"] == ["queue:unassigned"]
        assert hot["runs"] == ["owner.assign", "task.create", "webhook.send"]
        # importing the same file again records no new entry, so hands off nothing
        assert self._import(cli, tmp_path, "--handoff")["handed_off"] == 0
        assert _hot(db) == hot
