"""``leadgate leads adjust``: a score adjustment from the command line, and its revocation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from typer.testing import CliRunner

from leadgate.audit.models import AuditEntry
from leadgate.cli import app
from leadgate.db.engine import Database
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead

EMAIL = "jana@tatra.cz"


def _lead(db: Database) -> None:
    with db.session() as session:
        upsert_lead(session, data=LeadCreate(email=EMAIL), now=datetime.now(UTC))


class TestLeadsAdjust:
    def test_adjust_then_revoke(self, cli: CliRunner, db: Database) -> None:
        _lead(db)
        args = ["leads", "adjust", EMAIL, "--group", "engagement", "--points", "70"]
        made = cli.invoke(app, [*args, "--reason", "met at the fair", "--actor", "ana", "--json"])
        assert made.exit_code == 0, made.output
        body = json.loads(made.output)
        assert body["adjustment"]["actor"] == "ana"
        assert body["scores"]["engagement"] == 70
        number = str(body["adjustment"]["id"])
        explained = cli.invoke(app, ["explain", EMAIL])
        assert explained.exit_code == 0, explained.output
        assert f"adjustment:{number}" in explained.output and "adjusted by ana" in explained.output
        revoked = cli.invoke(app, ["leads", "adjust", EMAIL, "--revoke", number])
        assert revoked.exit_code == 0, revoked.output
        assert f"revoked adjustment {number}: engagement +70" in revoked.output
        assert "engagement 0.0" in revoked.output
        with db.session() as session:
            actions = [entry.action for entry in session.scalars(select(AuditEntry))]
        assert actions == ["score.adjusted", "score.adjustment_revoked"]

    def test_incomplete_or_mixed_options_and_bad_groups_exit_2(
        self, cli: CliRunner, db: Database
    ) -> None:
        _lead(db)
        missing = cli.invoke(app, ["leads", "adjust", EMAIL, "--group", "fit", "--points", "5"])
        assert missing.exit_code == 2 and "--reason" in missing.output
        mixed = cli.invoke(app, ["leads", "adjust", EMAIL, "--revoke", "1", "--points", "5"])
        assert mixed.exit_code == 2 and "--revoke takes no" in mixed.output
        rollup_args = ["--group", "account_engagement", "--points", "5", "--reason", "x"]
        rollup = cli.invoke(app, ["leads", "adjust", EMAIL, *rollup_args, "--json"])
        assert rollup.exit_code == 2
        assert "cannot be adjusted" in json.loads(rollup.output)["error"]["message"]
