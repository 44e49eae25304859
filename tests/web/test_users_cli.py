"""``leadgate users``: created with the password on stdin, the user signs in to the
web app; bad input is one clear error and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from leadgate.cli import app
from tests.web.conftest import Web, login_token

SECRET = "a long enough secret"


def _create(
    cli: CliRunner, *args: str, password: str = SECRET + "\n"
) -> tuple[int, dict[str, Any]]:
    result = cli.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "Nia@T.example",
            "--name",
            "Nia New",
            *args,
            "--password-stdin",
            "--json",
        ],
        input=password,
    )
    return result.exit_code, json.loads(result.stdout)


class TestUsersCommand:
    def test_a_user_created_on_the_command_line_signs_in(self, cli: CliRunner, web: Web) -> None:
        code, answer = _create(cli, "--role", "rep", "--rep", "rita@t.example")
        assert code == 0, answer
        assert answer["user"]["email"] == "nia@t.example"
        assert answer["user"]["rep"] == "rita@t.example"
        assert SECRET not in json.dumps(answer)  # neither the password nor its hash shown
        assert "password_hash" not in answer["user"]
        web.login("nia@t.example", SECRET).close()
        listed = json.loads(cli.invoke(app, ["users", "list", "--json"]).stdout)
        assert "nia@t.example" in {user["email"] for user in listed["users"]}

    def test_bad_input_is_one_error_and_nothing_stored(self, cli: CliRunner, web: Web) -> None:
        assert _create(cli, "--role", "wizard")[0] == 2
        assert _create(cli, "--role", "rep", password="short\n")[0] == 2
        assert _create(cli, "--role", "rep", "--rep", "ghost@t.example")[0] == 2
        assert _create(cli, "--role", "rep", password="\n")[0] == 2
        listed = json.loads(cli.invoke(app, ["users", "list", "--json"]).stdout)
        assert "nia@t.example" not in {user["email"] for user in listed["users"]}

    def test_disable_and_reset_password(self, cli: CliRunner, web: Web) -> None:
        assert _create(cli, "--role", "manager")[0] == 0
        reset = cli.invoke(
            app,
            ["users", "reset-password", "nia@t.example", "--password-stdin", "--json"],
            input="another long secret\n",
        )
        assert reset.exit_code == 0
        web.login("nia@t.example", "another long secret").close()
        assert cli.invoke(app, ["users", "disable", "nia@t.example", "--json"]).exit_code == 0
        with web.client() as client:
            refused = client.post(
                "/login",
                data={
                    "email": "nia@t.example",
                    "password": "another long secret",
                    "csrf_token": login_token(client),
                },
            )
        assert refused.status_code == 401
