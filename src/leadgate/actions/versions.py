"""Stored versions of the handoff playbooks.

An admin saves the playbooks YAML from the settings: it is validated by the same
loader as a file (errors name the line and path) and stored as the next version
(1, 2, ...) with who saved it, when and why. The running service switches to it at
once; ``leadgate serve`` starts with the latest stored version when there is one,
over ``--playbooks``, ``LEADGATE_PLAYBOOKS_PATH`` and the shipped playbooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.actions.models import PlaybookVersion
from leadgate.actions.playbooks import Playbooks, load_playbooks
from leadgate.db.engine import Database
from leadgate.exceptions import LeadgateError, NotFoundError

__all__ = [
    "MAX_CONTENT",
    "get_version",
    "latest_playbooks",
    "list_versions",
    "save_playbooks",
    "stored_or",
    "stored_version",
]

#: The longest playbooks document accepted (characters).
MAX_CONTENT = 100_000
#: How a document being saved is named in its errors (``playbooks:7: playbooks[0].on: ...``).
EDITED = "playbooks"


def _latest(session: Session) -> PlaybookVersion | None:
    return session.scalar(select(PlaybookVersion).order_by(PlaybookVersion.version.desc()).limit(1))


def save_playbooks(
    session: Session, *, content: str, note: str | None, actor: str, now: datetime
) -> tuple[PlaybookVersion, Playbooks]:
    """Validate ``content`` and store it as the next version; returns the row and the
    parsed playbooks. An invalid document raises :class:`ModelError` (line and path)
    and stores nothing; so does a document equal to the latest version."""
    text = content.replace("\r\n", "\n")
    if len(text) > MAX_CONTENT:
        raise LeadgateError(f"playbooks may have at most {MAX_CONTENT:,} characters")
    playbooks = load_playbooks(text, file=EDITED)
    why = (note or "").strip() or None
    if why is not None and len(why) > 500:
        raise LeadgateError("a note may have at most 500 characters")
    latest = _latest(session)
    if latest is not None and latest.content == text:
        raise LeadgateError(f"nothing changed since version {latest.version}")
    row = PlaybookVersion(
        version=(latest.version if latest is not None else 0) + 1,
        content=text,
        note=why,
        actor=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, playbooks


def list_versions(session: Session, *, limit: int = 100) -> Sequence[PlaybookVersion]:
    """The stored versions, newest first."""
    return session.scalars(
        select(PlaybookVersion).order_by(PlaybookVersion.version.desc()).limit(limit)
    ).all()


def get_version(session: Session, *, version: int) -> PlaybookVersion:
    """One stored version by number (404 otherwise)."""
    row = session.scalar(select(PlaybookVersion).where(PlaybookVersion.version == version))
    if row is None:
        raise NotFoundError(f"no playbooks version {version}")
    return row


def latest_playbooks(session: Session) -> tuple[PlaybookVersion, Playbooks] | None:
    """The latest stored version and its playbooks, or None when none was saved.

    A stored version that no longer validates (an action removed since) raises
    :class:`ModelError` naming the version: the service refuses to start on it
    rather than silently running other playbooks.
    """
    row = _latest(session)
    if row is None:
        return None
    return row, load_playbooks(row.content, file=f"playbooks version {row.version}")


def stored_version(database: Database) -> int | None:
    """The number of the latest stored version (None: none stored)."""
    with database.session() as session:
        return session.scalar(select(func.max(PlaybookVersion.version)))


def stored_or(database: Database, fallback: Playbooks) -> tuple[Playbooks, int | None]:
    """What ``serve`` runs: the latest stored version (and its number) if there is
    one, else ``fallback`` (the file or the shipped playbooks) and None."""
    with database.session() as session:
        found = latest_playbooks(session)
    if found is None:
        return fallback, None
    row, playbooks = found
    return playbooks, row.version
