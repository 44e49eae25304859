"""API keys that belong to a user: created for an existing, enabled user only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from leadgate.cli import app
from leadgate.db.engine import Database
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.keys import create_key, list_keys
from leadgate.users.service import create_user, disable_user

NOW = datetime(2026, 12, 8, 9, tzinfo=UTC)


def _user(db: Database, email: str = "jane@x.io") -> str:
    with db.session() as session:
        user = create_user(
            session, email=email, name="Jane", role="manager", password="x" * 12, now=NOW
        )
        return user.id


class TestUserKeys:
    def test_a_key_records_its_user(self, db: Database) -> None:
        user_id = _user(db)
        with db.session() as session:
            key, secret = create_key(session, name="crm", scope="sales", now=NOW, user_id=user_id)
            assert secret.startswith("lg_sales_") and key.user_id == user_id
        with db.session() as session:
            assert [k.user_id for k in list_keys(session)] == [user_id]

    def test_unknown_and_disabled_users_are_refused(self, db: Database) -> None:
        user_id = _user(db)
        with pytest.raises(NotFoundError, match="no user"), db.session() as session:
            create_key(session, name="crm", scope="sales", now=NOW, user_id="usr_nobody")
        with db.session() as session:
            disable_user(session, ref=user_id, now=NOW)
        with pytest.raises(LeadgateError, match="disabled"), db.session() as session:
            create_key(session, name="crm", scope="sales", now=NOW, user_id=user_id)
        with db.session() as session:
            assert list_keys(session) == []

    def test_the_command_takes_the_users_email(self, cli: CliRunner, db: Database) -> None:
        user_id = _user(db)
        made = cli.invoke(
            app,
            [
                "keys",
                "create",
                "--scope",
                "sales",
                "--name",
                "crm",
                "--user",
                "JANE@x.io",
                "--json",
            ],
        )
        assert made.exit_code == 0, made.output
        assert json.loads(made.output)["user"] == "jane@x.io"
        listed = json.loads(cli.invoke(app, ["keys", "list", "--json"]).output)["keys"]
        assert [k["user_id"] for k in listed] == [user_id]
        unknown = cli.invoke(
            app, ["keys", "create", "--scope", "sales", "--name", "x", "--user", "no@x.io"]
        )
        assert unknown.exit_code == 2 and "no user" in unknown.output
