"""Settings, playbooks: the handoff playbooks YAML in an editor, validated on save
(the error shown at its line, the text kept), each save a new stored version that
the running service hands off with at once; the versions, with who and when."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.actions.models import PlaybookVersion
from leadgate.actions.playbooks import Playbooks, load_playbooks
from leadgate.actions.versions import (
    EDITED,
    MAX_CONTENT,
    get_version,
    list_versions,
    save_playbooks,
)
from leadgate.api.deps import ServiceState, state
from leadgate.audit import record
from leadgate.common.ids import utcnow
from leadgate.exceptions import ModelError
from leadgate.qualification.handoff import HandoffPolicy
from leadgate.web.auth import SignedIn, check_csrf
from leadgate.web.pages import act
from leadgate.web.settings_common import Admin, found, on_commit, page

__all__ = ["router", "use_playbooks"]

router = APIRouter(include_in_schema=False)
BACK = "/settings/playbooks"
#: Lines shown around an error's line.
CONTEXT_LINES = 3


def use_playbooks(service: ServiceState, playbooks: Playbooks) -> None:
    """Make the running service hand off with ``playbooks`` (call under its write lock)."""
    service.playbooks = playbooks
    service.handoff_policy = HandoffPolicy(
        playbooks=playbooks, fallback_owner=service.settings.fallback_owner
    )


def _excerpt(text: str, line: int | None) -> list[dict[str, Any]]:
    """The lines around ``line`` (1-based), numbered, the line itself marked."""
    if line is None:
        return []
    lines = text.replace("\r\n", "\n").split("\n")
    first = max(1, line - CONTEXT_LINES)
    last = min(len(lines), line + CONTEXT_LINES)
    return [
        {"number": number, "text": lines[number - 1], "error": number == line}
        for number in range(first, last + 1)
    ]


def _editor(
    request: Request,
    user: SignedIn,
    *,
    content: str,
    note: str = "",
    status: int = 200,
    error: str | None = None,
    failure: ModelError | None = None,
    loaded_from: int | None = None,
) -> Response:
    service = state(request)
    with service.reads.snapshot() as session:
        versions = list(list_versions(session))
    running = service.playbooks
    live = versions[0].version if versions and versions[0].content == running.source else None
    return page(
        "settings_playbooks.html",
        user,
        "playbooks",
        status=status,
        content=content,
        note=note,
        versions=versions,
        live=live,
        running=running,
        failure=failure,
        excerpt=_excerpt(content, failure.line if failure else None),
        loaded_from=loaded_from,
        error=error,
    )


@router.get("/settings/playbooks")
def playbooks_page(
    request: Request,
    user: Admin,
    from_version: int | None = Query(None, alias="from", ge=1),
    error: str | None = Query(None, max_length=2000),
) -> Response:
    """The playbooks the service runs now (or a stored version, to start from), and
    the stored versions."""
    content = state(request).playbooks.source
    if from_version is not None:
        with state(request).reads.snapshot() as session:
            content = found(get_version, session, version=from_version).content
    return _editor(request, user, content=content, error=error, loaded_from=from_version)


@router.post("/settings/playbooks")
def save(
    request: Request,
    user: Admin,
    content: Annotated[str, Form(max_length=MAX_CONTENT)],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Validate and store the playbooks as a new version, then run them at once.
    Invalid YAML is answered 422 with the error at its line, the text kept, and
    nothing stored."""
    check_csrf(request, user.csrf_token, csrf_token)
    try:
        load_playbooks(content.replace("\r\n", "\n"), file=EDITED)
    except ModelError as exc:
        return _editor(
            request, user, content=content, note=note, status=422, error=exc.render(), failure=exc
        )
    service = state(request)

    def work(session: Session) -> PlaybookVersion:
        now = utcnow()
        row, playbooks = save_playbooks(
            session, content=content, note=note, actor=user.viewer.actor, now=now
        )
        detail = {"version": row.version, "name": playbooks.name, "note": row.note}
        record(session, actor=user.viewer.actor, action="playbooks.saved", at=now, detail=detail)
        on_commit(session, lambda: use_playbooks(service, playbooks))  # still under the lock
        return row

    return act(request, user, csrf_token, BACK, work)


@router.get("/settings/playbooks/versions/{version}")
def version_page(request: Request, version: int, user: Admin) -> Response:
    """One stored version: its YAML, who saved it, when and why."""
    with state(request).reads.snapshot() as session:
        row = found(get_version, session, version=version)
    return page("settings_playbook_version.html", user, "playbooks", row=row)
