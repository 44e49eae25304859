"""The demo builds a believable world, scores it, and never overwrites a real database."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from leadgate.cli import app
from leadgate.demo.runner import build_demo
from leadgate.demo.world import generate_world
from leadgate.exceptions import DemoError
from tests.conftest import USING_POSTGRES

END = datetime(2026, 11, 24, tzinfo=UTC)
FREE = ("@gmail.com", "@seznam.cz", "@outlook.com", "@yahoo.com", "@gmx.de")


class TestWorld:
    def test_same_seed_same_world(self) -> None:
        first = generate_world(seed=3, leads=300, accounts=50, end=END)
        second = generate_world(seed=3, leads=300, accounts=50, end=END)
        assert [lead.email for lead in first.leads] == [lead.email for lead in second.leads]
        assert first.event_count == second.event_count

    def test_default_world_is_big_and_varied(self) -> None:
        """At least 2,000 leads in 300 accounts, many industries and countries, months of events."""
        world = generate_world(end=END)
        assert len(world.leads) >= 2000 and len(world.accounts) >= 300
        assert len({account.industry for account in world.accounts}) >= 8
        assert len({account.country for account in world.accounts}) >= 8
        events = [event for lead in world.leads for event in lead.events]
        assert (max(e.ts for e in events) - min(e.ts for e in events)).days >= 90
        kinds = Counter(event.type.split(".")[0] for event in events)
        assert {"email", "page", "webinar", "content", "form"} <= set(kinds)
        assert all(event.ts < END for event in events)

    def test_most_leads_never_engage_again(self) -> None:
        world = generate_world(end=END)
        quiet = sum(1 for lead in world.leads if len(lead.events) <= 3)
        assert quiet / len(world.leads) > 0.4

    def test_free_mail_leads_have_no_account(self) -> None:
        world = generate_world(seed=5, leads=500, accounts=60, end=END)
        for lead in world.leads:
            if lead.email.endswith(FREE):
                assert lead.account is None


@pytest.mark.skipif(USING_POSTGRES, reason="builds its own SQLite files")
class TestBuildDemo:
    def test_builds_scores_and_records_outcomes(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path}/demo.db"
        summary = build_demo(url=url, leads=600, accounts=90, end=END)
        assert summary.leads == 600
        assert sum(summary.stages.values()) == 600
        assert summary.ever_mql > 0
        assert 0 < summary.ever_sql < summary.ever_mql
        assert summary.stages["customer"] + summary.stages["opportunity"] > 0

    def test_rebuilding_a_demo_database_is_allowed(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path}/demo.db"
        first = build_demo(url=url, leads=100, accounts=20, end=END)
        second = build_demo(url=url, leads=100, accounts=20, end=END)
        assert first.stages == second.stages

    def test_refuses_to_overwrite_a_real_database(self, tmp_path: Path) -> None:
        path = tmp_path / "precious.db"
        engine = create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE leads (id TEXT)"))
            conn.execute(text("INSERT INTO leads VALUES ('keep-me')"))
        engine.dispose()
        with pytest.raises(DemoError, match="not a leadgate demo database"):
            build_demo(url=f"sqlite:///{path}", leads=50, accounts=10, end=END)
        engine = create_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM leads")).scalar_one() == "keep-me"
        engine.dispose()


@pytest.mark.skipif(USING_POSTGRES, reason="builds its own SQLite files")
class TestDemoCommand:
    def test_demo_prints_summary_and_how_to_look_further(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(app, ["demo", "--leads", "300", "--accounts", "50"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "leadgate-demo.db").exists()
        for text_part in (
            "leads by stage",
            "MQL to SQL",
            "export LEADGATE_DATABASE_URL=sqlite:///",
        ):
            assert text_part in result.output

    def test_demo_json(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(app, ["demo", "--leads", "200", "--accounts", "30", "--json"])
        payload = json.loads(result.stdout)
        assert payload["leads"] == 200
        assert set(payload["stages"]) >= {"lead", "mql", "sql", "customer", "nurture"}


class TestDemoOnConfiguredDatabase:
    def test_builds_on_the_test_database(self, database_url: str) -> None:
        """Runs on SQLite locally and on PostgreSQL in CI (an empty database counts as free)."""
        summary = build_demo(url=database_url, leads=300, accounts=50, end=END)
        assert sum(summary.stages.values()) == 300
        assert summary.ever_mql > 0
        again = build_demo(url=database_url, leads=300, accounts=50, end=END)
        assert again.stages == summary.stages


@pytest.mark.skipif(USING_POSTGRES, reason="builds its own SQLite files")
class TestDemoRefusesForeignFiles:
    def test_a_file_that_is_not_a_database_is_left_alone(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.db"
        path.write_text("my notes", encoding="utf-8")
        with pytest.raises(DemoError):
            build_demo(url=f"sqlite:///{path}", leads=50, accounts=10, end=END)
        assert path.read_text(encoding="utf-8") == "my notes"
