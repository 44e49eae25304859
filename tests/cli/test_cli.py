"""The command line: exit codes, --json output, and one clear message for bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from leadgate.cli import app

REPO = Path(__file__).resolve().parents[2]


def _json(output: str) -> dict[str, object]:
    value = json.loads(output)
    assert isinstance(value, dict)
    return value


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class TestModelCheck:
    def test_valid_model_exits_zero(self, cli: CliRunner) -> None:
        path = REPO / "src/leadgate/scoring/default_model.yaml"
        result = cli.invoke(app, ["model", "check", str(path)])
        assert result.exit_code == 0, result.output
        assert "b2b-default@v3" in result.output

    def test_valid_model_json(self, cli: CliRunner) -> None:
        path = REPO / "src/leadgate/scoring/default_model.yaml"
        result = cli.invoke(app, ["model", "check", str(path), "--json"])
        payload = _json(result.stdout)
        assert payload["ok"] is True
        assert payload["label"] == "b2b-default@v3"
        assert payload["grades"] == ["A", "B", "C", "D"]

    def test_invalid_model_names_the_path(self, cli: CliRunner, tmp_path: Path) -> None:
        path = _write(
            tmp_path / "bad.yaml",
            "version: 1\nname: x\ngroups:\n  fit:\n    rules:\n"
            "      - {id: a, when: {lead.country: {eq: CZ}}, points: ten}\n",
        )
        result = cli.invoke(app, ["model", "check", str(path), "--json"])
        assert result.exit_code == 2
        error = _json(result.stdout)["error"]
        assert isinstance(error, dict)
        assert error["path"] == "groups.fit.rules[0].points"
        assert error["line"] == 6
        assert "must be a number" in str(error["message"])

    def test_missing_file(self, cli: CliRunner, tmp_path: Path) -> None:
        result = cli.invoke(app, ["model", "check", str(tmp_path / "nope.yaml")])
        assert result.exit_code == 2
        assert "cannot read file" in result.output

    def test_every_example_model_is_valid(self, cli: CliRunner) -> None:
        examples = sorted((REPO / "examples/models").glob("*.yaml"))
        assert len(examples) >= 4
        for path in examples:
            result = cli.invoke(app, ["model", "check", str(path)])
            assert result.exit_code == 0, (path, result.output)


def _ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def _import_small_world(cli: CliRunner, tmp_path: Path) -> None:
    """One hot lead at a Czech manufacturer, one student on free mail; events of the last days."""
    accounts = _write(
        tmp_path / "accounts.csv",
        "domain,name,industry,employees,country\ntatra.cz,Tatra Works,manufacturing,120,CZ\n",
    )
    leads = _write(
        tmp_path / "leads.csv",
        "email,first_name,seniority,channel\n"
        "Jana.Novak@tatra.cz,Jana,director,organic_search\n"
        "student@gmail.com,Petr,student,display\n",
    )
    events = _write(
        tmp_path / "events.csv",
        "event_id,email,type,occurred_at,url\n"
        f"e1,jana.novak@tatra.cz,email.opened,{_ago(50)},\n"
        f"e2,jana.novak@tatra.cz,email.clicked,{_ago(49.9)},\n"
        f"e3,jana.novak@tatra.cz,page.viewed,{_ago(20)},https://tatra.cz/pricing\n"
        f"e4,jana.novak@tatra.cz,webinar.attended,{_ago(10)},\n"
        f"e5,student@gmail.com,email.opened,{_ago(5)},\n",
    )
    for kind, path in (("accounts", accounts), ("leads", leads), ("events", events)):
        result = cli.invoke(app, ["import", kind, str(path), "--json"])
        assert result.exit_code == 0, result.output


class TestScoreExplainLeads:
    def test_score_moves_the_qualified_lead(self, cli: CliRunner, tmp_path: Path) -> None:
        _import_small_world(cli, tmp_path)
        result = cli.invoke(app, ["score", "--json"])
        assert result.exit_code == 0, result.output
        payload = _json(result.stdout)
        assert payload["leads"] == 2
        assert payload["moved_to_mql"] == 1
        qualified = payload["qualified"]
        assert isinstance(qualified, list)
        assert qualified[0]["email"] == "Jana.Novak@tatra.cz"
        assert qualified[0]["grade"] == "A"

    def test_leads_lists_by_stage(self, cli: CliRunner, tmp_path: Path) -> None:
        _import_small_world(cli, tmp_path)
        cli.invoke(app, ["score"])
        result = cli.invoke(app, ["leads", "--stage", "mql", "--json"])
        payload = _json(result.stdout)
        assert payload["count"] == 1
        leads = payload["leads"]
        assert isinstance(leads, list)
        assert leads[0]["account"] == "Tatra Works"
        assert leads[0]["grade"] == "A"
        table = cli.invoke(app, ["leads", "--limit", "5"])
        assert table.exit_code == 0 and "student@gmail.com" in table.output

    def test_leads_unknown_stage(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["leads", "--stage", "hot"])
        assert result.exit_code == 2
        assert "unknown stage 'hot'" in result.output

    def test_explain_shows_rules_events_and_history(self, cli: CliRunner, tmp_path: Path) -> None:
        _import_small_world(cli, tmp_path)
        cli.invoke(app, ["score"])
        result = cli.invoke(app, ["explain", "JANA.NOVAK@tatra.cz", "--json"])
        assert result.exit_code == 0, result.output
        payload = _json(result.stdout)
        assert payload["source"] == "stored"
        card = payload["scorecard"]
        assert isinstance(card, dict)
        pricing = next(rule for rule in card["rules"] if rule["rule_id"] == "pricing")
        assert pricing["events"][0]["event_id"] == "e3"
        assert [change["to"] for change in payload["history"]] == ["lead", "mql"]  # type: ignore[union-attr]
        text = cli.invoke(app, ["explain", "jana.novak@tatra.cz"])
        assert "pricing" in text.output and "stage history" in text.output

    def test_explain_recomputes_with_as_of(self, cli: CliRunner, tmp_path: Path) -> None:
        """With --as-of the breakdown is computed live: a year later everything decayed."""
        _import_small_world(cli, tmp_path)
        result = cli.invoke(
            app,
            [
                "explain",
                "jana.novak@tatra.cz",
                "--as-of",
                (datetime.now(UTC) + timedelta(days=365)).isoformat(),
                "--json",
            ],
        )
        payload = _json(result.stdout)
        assert payload["source"] == "computed"
        card = payload["scorecard"]
        assert isinstance(card, dict)
        assert card["mql"] is False
        assert card["scores"]["engagement"] < 1

    def test_explain_unknown_lead(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["explain", "ghost@nowhere.cz"])
        assert result.exit_code == 2
        assert "no lead with id or email 'ghost@nowhere.cz'" in result.output

    def test_score_as_of_before_the_stage_began_moves_nobody(
        self, cli: CliRunner, tmp_path: Path
    ) -> None:
        """Scoring as of last year stores scorecards but no history before the lead existed."""
        _import_small_world(cli, tmp_path)
        when = (datetime.now(UTC) - timedelta(days=365)).isoformat()
        payload = _json(cli.invoke(app, ["score", "--as-of", when, "--json"]).stdout)
        assert payload["moved_to_mql"] == 0

    def test_score_rejects_as_of_without_zone(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["score", "--as-of", "2026-11-01T10:00"])
        assert result.exit_code == 2
        assert "--as-of" in result.output and "no time zone" in result.output

    def test_score_with_invalid_model_changes_nothing(self, cli: CliRunner, tmp_path: Path) -> None:
        _import_small_world(cli, tmp_path)
        bad = _write(tmp_path / "bad.yaml", "version: 1\nname: x\ngroups: {}\n")
        result = cli.invoke(app, ["score", "--model", str(bad)])
        assert result.exit_code == 2
        assert "groups" in result.output
        listing = _json(cli.invoke(app, ["leads", "--json"]).stdout)
        assert all(lead["scores"] is None for lead in listing["leads"])  # type: ignore[union-attr]
