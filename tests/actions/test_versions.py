"""Stored playbooks versions: saved validated, numbered, the latest run by ``serve``."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select
from typer.testing import CliRunner

from leadgate.actions.models import PlaybookVersion
from leadgate.actions.playbooks import default_playbooks
from leadgate.actions.versions import (
    get_version,
    latest_playbooks,
    list_versions,
    save_playbooks,
    stored_or,
)
from leadgate.cli import app
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.exceptions import LeadgateError, ModelError, NotFoundError
from leadgate.qualification import HandoffPolicy

NOW = datetime(2026, 12, 8, 9, tzinfo=UTC)
VALID = """version: 1
name: saved-{n}
playbooks:
  - id: mql
    on: mql
    actions:
      - owner.assign
      - task.create: {{title: "Ring {{lead.email}}", due_in_minutes: 15}}
"""
BROKEN = "version: 1\nname: x\nplaybooks:\n  - id: a\n    on: mql\n    actions:\n      - nope.x\n"


def _save(db: Database, content: str, note: str | None = None) -> int:
    with db.session() as session:
        row, _ = save_playbooks(session, content=content, note=note, actor="user:a@x.io", now=NOW)
        return row.version


class TestVersions:
    def test_saves_are_numbered_and_the_latest_wins(self, db: Database) -> None:
        assert _save(db, VALID.format(n=1), "first") == 1
        assert _save(db, VALID.format(n=2).replace("\n", "\r\n")) == 2
        with db.session() as session:
            assert [row.version for row in list_versions(session)] == [2, 1]
            assert get_version(session, version=1).note == "first"
            assert "\r" not in get_version(session, version=2).content
            found = latest_playbooks(session)
            assert found is not None and found[1].name == "saved-2"
            assert found[1].source == found[0].content
            with pytest.raises(NotFoundError):
                get_version(session, version=3)

    def test_an_invalid_document_names_the_line_and_stores_nothing(self, db: Database) -> None:
        with pytest.raises(ModelError) as caught:
            _save(db, BROKEN)
        assert caught.value.line == 7 and caught.value.path == "playbooks[0].actions[0]"
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(PlaybookVersion)) == 0

    def test_saving_the_latest_again_is_refused(self, db: Database) -> None:
        _save(db, VALID.format(n=1))
        with pytest.raises(LeadgateError, match="nothing changed since version 1"):
            _save(db, VALID.format(n=1))

    def test_stored_or_falls_back_to_the_file_or_default(self, db: Database) -> None:
        fallback = default_playbooks()
        assert stored_or(db, fallback) == (fallback, None)
        _save(db, VALID.format(n=1))
        playbooks, version = stored_or(db, fallback)
        assert (playbooks.name, version) == ("saved-1", 1)


def test_serve_starts_with_the_latest_stored_version(
    cli: CliRunner, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``leadgate serve`` hands the app the stored playbooks over the shipped ones."""
    _save(db, VALID.format(n=1))
    _save(db, VALID.format(n=7))
    served: dict[str, Any] = {}

    def fake_run(application: Any, **_: Any) -> None:
        served["playbooks"] = application.state.leadgate.playbooks

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(gc, "set_threshold", lambda *_: None)  # serve tunes the collector
    result = cli.invoke(app, ["serve", "--port", "8999"])
    assert result.exit_code == 0, result.output
    assert served["playbooks"].name == "saved-7"
    assert "(stored version 2)" in result.output


class TestEveryPathRunsTheStoredVersion:
    def test_a_command_hands_off_with_the_stored_version_over_a_file(
        self, db: Database, tmp_path: Path
    ) -> None:
        """``HandoffPolicy.configured`` (score, rescore, imports, handoff release, serve)
        runs the latest stored version; the file only applies while none is stored."""
        seed = tmp_path / "seed.yaml"
        seed.write_text(VALID.format(n="file"), encoding="utf-8")
        settings = Settings()
        assert HandoffPolicy.configured(settings, seed, database=db).playbooks.name == "saved-file"
        _save(db, VALID.format(n="settings"))
        after = HandoffPolicy.configured(settings, seed, database=db)
        assert after.playbooks.name == "saved-settings"
