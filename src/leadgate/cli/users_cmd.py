"""``leadgate users``: the people who sign in to the web app (create, list, disable,
reset a password). Passwords come on stdin (``--password-stdin``) or from a hidden
prompt, never as an argument (arguments show in ``ps`` and shell history)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from leadgate.audit import record
from leadgate.cli.output import JsonOption, console, database, emit_json, fail, guard
from leadgate.common.ids import utcnow
from leadgate.users.models import User
from leadgate.users.service import (
    ROLES,
    create_user,
    disable_user,
    list_users,
    reset_password,
    user_dict,
)

__all__ = ["app"]

app = typer.Typer(
    help="Users of the web app: roles rep, manager, marketing, admin.", no_args_is_help=True
)

PasswordStdin = typer.Option(
    False, "--password-stdin", help="Read the password from standard input (one line)."
)


def _password(from_stdin: bool, as_json: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            fail("no password on standard input", as_json=as_json)
        return password
    if not sys.stdin.isatty():
        fail("give the password with --password-stdin (no terminal to prompt on)", as_json=as_json)
    answer: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return answer


def _change_user(
    as_json: bool, action: str, change: Callable[[Session, datetime], User]
) -> dict[str, object]:
    """Run ``change`` in one transaction with its audit entry (actor ``cli``); the user
    as listed, or one clear error."""
    row: dict[str, object] = {}
    with guard(as_json):
        db = database()
        try:
            with db.session() as session:
                now = utcnow()
                user = change(session, now)
                detail = {"email": user.email, "role": user.role}
                record(session, actor="cli", action=action, at=now, detail=detail)
                row = user_dict(user)
        finally:
            db.dispose()
    return row


def _answer(as_json: bool, row: dict[str, object], text: str) -> None:
    if as_json:
        emit_json({"ok": True, "user": row})
    else:
        console.print(text)


@app.command("create")
def create(
    email: str = typer.Option(..., "--email", help="The address they sign in with."),
    name: str = typer.Option(..., "--name", help="Their name, as history rows show it."),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(ROLES)}."),
    rep: str | None = typer.Option(None, "--rep", help="The rep record they are (its email)."),
    time_zone: str = typer.Option("UTC", "--time-zone", help="IANA time zone, e.g. Europe/Paris."),
    password_stdin: bool = PasswordStdin,
    as_json: bool = JsonOption,
) -> None:
    """Create a user who can sign in at once."""
    password = _password(password_stdin, as_json)
    row = _change_user(
        as_json,
        "user.created",
        lambda session, now: create_user(
            session,
            email=email,
            name=name,
            role=role,
            password=password,
            now=now,
            rep=rep,
            time_zone=time_zone,
        ),
    )
    _answer(as_json, row, f"created {row['role']} [bold]{row['email']}[/] ({row['name']})")


@app.command("list")
def list_command(as_json: bool = JsonOption) -> None:
    """List users (never their passwords)."""
    with guard(as_json):
        db = database()
        try:
            with db.session() as session:
                rows = [user_dict(user) for user in list_users(session)]
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, "users": rows})
        return
    table = Table("email", "name", "role", "rep", "time zone", "disabled", title="Users")
    for row in rows:
        table.add_row(
            str(row["email"]),
            str(row["name"]),
            str(row["role"]),
            str(row["rep"] or ""),
            str(row["time_zone"]),
            "yes" if row["disabled"] else "",
        )
    console.print(table)


@app.command("disable")
def disable(
    email: str = typer.Argument(..., help="The user's email (or id)."),
    as_json: bool = JsonOption,
) -> None:
    """Stop a user from signing in; their open sessions end at once."""
    row = _change_user(
        as_json, "user.disabled", lambda session, now: disable_user(session, ref=email, now=now)
    )
    _answer(as_json, row, f"disabled {row['email']}")


@app.command("reset-password")
def reset(
    email: str = typer.Argument(..., help="The user's email (or id)."),
    password_stdin: bool = PasswordStdin,
    as_json: bool = JsonOption,
) -> None:
    """Set a new password; the user's open sessions end."""
    password = _password(password_stdin, as_json)
    row = _change_user(
        as_json,
        "user.password_reset",
        lambda session, now: reset_password(session, ref=email, password=password, now=now),
    )
    _answer(as_json, row, f"new password set for {row['email']}; their sessions ended")
