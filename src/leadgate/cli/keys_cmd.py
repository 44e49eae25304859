"""``leadgate keys``: create, list and revoke API keys (the secret is shown once)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from leadgate.cli.output import JsonOption, console, database, emit_json, guard
from leadgate.common.ids import utcnow
from leadgate.keys import create_key, list_keys, revoke_key
from leadgate.users.service import find_user

__all__ = ["app"]

app = typer.Typer(help="API keys for the service (ingest, sales, admin).", no_args_is_help=True)


@app.command("create")
def create(
    scope: str = typer.Option(..., "--scope", help="ingest, sales or admin."),
    name: str = typer.Option(..., "--name", help="Who or what uses the key (e.g. website)."),
    user: str | None = typer.Option(
        None, "--user", help="The user the key acts as (their email): their role applies."
    ),
    origin: list[str] = typer.Option(
        [],
        "--origin",
        help="A site (https://www.example.com) whose pages may use this ingest key from "
        "browsers; repeat for more. Makes a public key: tracking endpoints only.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a key and print its secret once; only a hash is stored."""
    with guard(as_json):
        db = database()
        try:
            with db.session() as session:
                owner = None if user is None else find_user(session, ref=user)
                key, secret = create_key(
                    session,
                    name=name,
                    scope=scope,
                    now=utcnow(),
                    user_id=None if owner is None else owner.id,
                    origins=origin,
                )
                row = {
                    "id": key.id,
                    "name": key.name,
                    "scope": key.scope,
                    "prefix": key.prefix,
                    "user": None if owner is None else owner.email,
                    "origins": key.origins or [],
                }
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, **row, "key": secret})
        return
    owned = f" acting as {row['user']}" if row["user"] else ""
    if row["origins"]:
        owned += f" for pages on {', '.join(row['origins'])}"
    console.print(f"created {row['scope']} key [bold]{row['name']}[/] ({row['id']}){owned}")
    console.print(f"key: [bold]{secret}[/]")
    console.print("[dim]store it now: it is not shown again (only its hash is kept)[/]")


@app.command("list")
def list_command(as_json: bool = JsonOption) -> None:
    """List keys (never their secrets)."""
    with guard(as_json):
        db = database()
        try:
            with db.session() as session:
                rows: list[dict[str, Any]] = [
                    {
                        "id": key.id,
                        "name": key.name,
                        "scope": key.scope,
                        "prefix": key.prefix,
                        "created_at": key.created_at.isoformat(),
                        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                        "user_id": key.user_id,
                        "origins": key.origins or [],
                    }
                    for key in list_keys(session)
                ]
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, "keys": rows})
        return
    table = Table(
        "id", "name", "scope", "prefix", "origins", "created", "revoked", title="API keys"
    )
    for row in rows:
        table.add_row(
            row["id"],
            row["name"],
            row["scope"],
            row["prefix"],
            " ".join(row["origins"]),
            str(row["created_at"])[:19],
            str(row["revoked_at"] or "")[:19],
        )
    console.print(table)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (or prefix)."),
    as_json: bool = JsonOption,
) -> None:
    """Revoke a key: it stops working at once."""
    with guard(as_json):
        db = database()
        try:
            with db.session() as session:
                key = revoke_key(session, key_id=key_id, now=utcnow())
                row = {"id": key.id, "name": key.name, "revoked_at": str(key.revoked_at)}
        finally:
            db.dispose()
    if as_json:
        emit_json({"ok": True, **row})
        return
    console.print(f"revoked {row['name']} ({row['id']})")
