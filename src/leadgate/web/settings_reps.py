"""Settings, reps: the list, creating and editing a rep (territories, weight,
availability, manager), and their absences with dates."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadgate.api.deps import state
from leadgate.audit import record
from leadgate.common.ids import utcnow
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.reps.models import Rep, RepAbsence
from leadgate.reps.service import (
    RepIn,
    add_absence,
    delete_absence,
    rep_dict,
    upcoming_absences,
    upsert_rep,
)
from leadgate.users.models import User
from leadgate.web.auth import SignedIn
from leadgate.web.pages import act
from leadgate.web.settings_common import Admin, invalid, page

__all__ = ["format_territories", "parse_territories", "router"]

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=320)]
Csrf = Annotated[str | None, Form(max_length=200)]


def parse_territories(text: str) -> list[dict[str, list[str]]]:
    """Territory rules from the form: a JSON list, or one rule per line written
    ``country: CZ, SK; tier: 1`` (every key of a line must match)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"territories: not valid JSON ({exc.msg}, line {exc.lineno})"
            raise LeadgateError(message) from None
        if not isinstance(value, list):
            raise LeadgateError("territories: a JSON list of rules is expected")
        return value
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        rule: dict[str, list[str]] = {}
        for part in line.split(";"):
            key, colon, values = part.partition(":")
            items = [value.strip() for value in values.split(",") if value.strip()]
            if not colon or not key.strip() or not items:
                raise LeadgateError(
                    f"territories line {number}: write key: value, value "
                    "(for example country: CZ, SK; tier: 1)"
                )
            rule[key.strip().lower()] = items
        rules.append(rule)
    return rules


def format_territories(rules: list[dict[str, list[str]]]) -> str:
    """The rules as the form writes them, one per line."""
    return "\n".join(
        "; ".join(f"{key}: {', '.join(values)}" for key, values in rule.items()) for rule in rules
    )


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise LeadgateError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def _rep_path(email: str) -> str:
    return f"/settings/reps/{quote(email, safe='@')}"


def _managers(session: Session) -> list[str]:
    return list(
        session.scalars(select(User.email).where(User.role == "manager").order_by(User.email))
    )


@router.get("/settings/reps")
def reps_page(
    request: Request, user: Admin, error: str | None = Query(None, max_length=2000)
) -> Response:
    """Every rep with their territories, load and absences; a form for a new one."""
    today = utcnow().date()
    with state(request).reads.snapshot() as session:
        reps = list(session.scalars(select(Rep).order_by(Rep.name, Rep.email)))
        away: dict[str, list[RepAbsence]] = defaultdict(list)
        for absence in upcoming_absences(session, today=today):
            away[absence.rep_email].append(absence)
        managers = _managers(session)
    rows = [
        {**rep_dict(rep), "territories_text": format_territories(rep.territories)} for rep in reps
    ]
    return page(
        "settings_reps.html",
        user,
        "reps",
        reps=rows,
        away=away,
        today=today,
        managers=managers,
        error=error,
    )


@router.get("/settings/reps/{email}")
def rep_page(
    request: Request, email: str, user: Admin, error: str | None = Query(None, max_length=2000)
) -> Response:
    """One rep: the edit form, and their current and planned absences."""
    today = utcnow().date()
    with state(request).reads.snapshot() as session:
        rep = session.get(Rep, email.strip().lower())
        if rep is None:
            raise HTTPException(404, f"no rep {email!r}")
        absences = [a for a in upcoming_absences(session, today=today) if a.rep_email == rep.email]
        managers = _managers(session)
        row = {**rep_dict(rep), "territories_text": format_territories(rep.territories)}
    return page(
        "settings_rep.html",
        user,
        "reps",
        rep=row,
        path=_rep_path(row["email"]),
        absences=absences,
        today=today,
        managers=managers,
        error=error,
    )


@dataclass(frozen=True)
class _RepForm:
    """The rep form as posted (validated inside the change, after the CSRF check)."""

    email: str
    name: str
    manager: str
    weight: str
    territories: str
    available: bool

    def parsed(self) -> RepIn:
        try:
            return RepIn(
                email=self.email,
                name=self.name,
                manager=self.manager.strip() or None,
                weight=self.weight.strip() or "1",  # pydantic coerces it
                territories=parse_territories(self.territories),
                available=self.available,
            )
        except ValidationError as exc:
            raise invalid(exc) from None


def _save_rep(
    request: Request, user: SignedIn, form: _RepForm, csrf_token: str | None, *, new: bool
) -> Response:
    back = "/settings/reps" if new else _rep_path(form.email)

    def work(session: Session) -> Rep:
        data = form.parsed()
        exists = session.get(Rep, data.email) is not None
        if new and exists:
            raise LeadgateError(f"a rep {data.email} already exists: edit it instead")
        if not new and not exists:
            raise NotFoundError(f"no rep {data.email!r}")
        now = utcnow()
        rep, _ = upsert_rep(session, data=data, now=now)
        action = "rep.created" if new else "rep.updated"
        record(session, actor=user.viewer.actor, action=action, at=now, detail=rep_dict(rep))
        return rep

    return act(request, user, csrf_token, back, work)


@router.post("/settings/reps")
def create_rep(
    request: Request,
    user: Admin,
    email: Text,
    name: Annotated[str, Form(max_length=200)],
    manager: Text = "",
    weight: Annotated[str, Form(max_length=10)] = "1",
    territories: Annotated[str, Form(max_length=20_000)] = "",
    available: Annotated[bool, Form()] = False,
    csrf_token: Csrf = None,
) -> Response:
    """A new rep (refused when the email is already a rep's)."""
    form = _RepForm(email, name, manager, weight, territories, available)
    return _save_rep(request, user, form, csrf_token, new=True)


@router.post("/settings/reps/{email}")
def update_rep(
    request: Request,
    email: str,
    user: Admin,
    name: Annotated[str, Form(max_length=200)],
    manager: Text = "",
    weight: Annotated[str, Form(max_length=10)] = "1",
    territories: Annotated[str, Form(max_length=20_000)] = "",
    available: Annotated[bool, Form()] = False,
    csrf_token: Csrf = None,
) -> Response:
    """Change a rep's name, manager, weight, territories or availability."""
    form = _RepForm(email, name, manager, weight, territories, available)
    return _save_rep(request, user, form, csrf_token, new=False)


@router.post("/settings/reps/{email}/absences")
def create_absence(
    request: Request,
    email: str,
    user: Admin,
    starts_on: Annotated[str, Form(max_length=20)],
    ends_on: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = None,
) -> Response:
    """The rep is away from one date to another (both included): no new leads then."""

    def work(session: Session) -> RepAbsence:
        now = utcnow()
        absence = add_absence(
            session,
            rep_email=email,
            starts_on=_day(starts_on, "from"),
            ends_on=_day(ends_on, "to"),
            note=note,
            actor=user.viewer.actor,
            now=now,
        )
        detail = _absence_detail(absence)
        record(session, actor=user.viewer.actor, action="rep.absence_added", at=now, detail=detail)
        return absence

    return act(request, user, csrf_token, _rep_path(email), work)


@router.post("/settings/reps/{email}/absences/{absence_id}/delete")
def remove_absence(
    request: Request, email: str, absence_id: int, user: Admin, csrf_token: Csrf = None
) -> Response:
    """Delete an absence: the rep gets leads on those days again."""

    def work(session: Session) -> RepAbsence:
        found = session.get(RepAbsence, absence_id)
        if found is None or found.rep_email != email.strip().lower():
            raise NotFoundError(f"no absence {absence_id} of {email}")
        absence = delete_absence(session, absence_id=absence_id)
        detail = _absence_detail(absence)
        record(
            session,
            actor=user.viewer.actor,
            action="rep.absence_deleted",
            at=utcnow(),
            detail=detail,
        )
        return absence

    return act(request, user, csrf_token, _rep_path(email), work)


def _absence_detail(absence: RepAbsence) -> dict[str, Any]:
    return {
        "id": absence.id,
        "rep": absence.rep_email,
        "from": absence.starts_on.isoformat(),
        "to": absence.ends_on.isoformat(),
        "note": absence.note,
    }
