"""Reps and who owns a lead: the account's owner, else territory, else weighted round robin
over the reps available and not away (absences) on the assignment date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.common.text import normalize_email
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.leads.models import Lead
from leadgate.reps.models import Rep, RepAbsence

__all__ = [
    "TERRITORY_KEYS",
    "RepIn",
    "absent_on",
    "add_absence",
    "assignable_reps",
    "choose_owner",
    "delete_absence",
    "list_reps",
    "rep_dict",
    "size_band",
    "upcoming_absences",
    "upsert_rep",
]

#: What a territory rule may name; each maps to a list of accepted values.
TERRITORY_KEYS = frozenset({"country", "industry", "size_band", "tier"})
#: Company size bands by employees (lower bound, label).
SIZE_BANDS = ((1000, "1000+"), (250, "250-999"), (50, "50-249"), (0, "1-49"))


class RepIn(BaseModel):
    """A rep to create or update (by email)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    territories: list[dict[str, list[str]]] = Field(default_factory=list)
    weight: int = Field(default=1, ge=1, le=1000)
    available: bool = True
    manager: str | None = Field(default=None, max_length=320)

    @field_validator("email", "manager")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)[0].lower()

    @field_validator("territories")
    @classmethod
    def _keys(cls, value: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
        for index, rule in enumerate(value):
            unknown = set(rule) - TERRITORY_KEYS
            if unknown:
                raise ValueError(
                    f"territories[{index}]: unknown key {sorted(unknown)[0]!r}; "
                    f"use {', '.join(sorted(TERRITORY_KEYS))}"
                )
        return value


def rep_dict(rep: Rep) -> dict[str, Any]:
    return {
        "email": rep.email,
        "name": rep.name,
        "territories": rep.territories,
        "weight": rep.weight,
        "available": rep.available,
        "manager": rep.manager,
        "assigned": rep.assigned,
    }


def upsert_rep(session: Session, *, data: RepIn, now: datetime) -> tuple[Rep, bool]:
    email = str(data.email).lower()
    rep = session.get(Rep, email)
    created = rep is None
    if rep is None:
        rep = Rep(email=email, assigned=0, created_at=now)
        session.add(rep)
    rep.name = data.name
    rep.territories = data.territories
    rep.weight = data.weight
    rep.available = data.available
    rep.manager = None if data.manager is None else str(data.manager).lower()
    rep.updated_at = now
    session.flush()
    return rep, created


def list_reps(session: Session) -> Sequence[Rep]:
    return session.scalars(select(Rep).order_by(Rep.email)).all()


def add_absence(
    session: Session,
    *,
    rep_email: str,
    starts_on: date,
    ends_on: date,
    note: str | None,
    actor: str,
    now: datetime,
) -> RepAbsence:
    """Record that a rep is away from ``starts_on`` to ``ends_on`` (both included)."""
    rep = session.get(Rep, rep_email.strip().lower())
    if rep is None:
        raise NotFoundError(f"no rep {rep_email!r}")
    if ends_on < starts_on:
        raise LeadgateError(f"an absence cannot end ({ends_on}) before it starts ({starts_on})")
    text = (note or "").strip() or None
    if text is not None and len(text) > 500:
        raise LeadgateError("an absence note may have at most 500 characters")
    absence = RepAbsence(
        rep_email=rep.email,
        starts_on=starts_on,
        ends_on=ends_on,
        note=text,
        actor=actor,
        created_at=now,
    )
    session.add(absence)
    session.flush()
    return absence


def delete_absence(session: Session, *, absence_id: int) -> RepAbsence:
    """Remove an absence (the rep gets leads on those days again)."""
    absence = session.get(RepAbsence, absence_id)
    if absence is None:
        raise NotFoundError(f"no absence {absence_id}")
    session.delete(absence)
    session.flush()
    return absence


def upcoming_absences(session: Session, *, today: date) -> Sequence[RepAbsence]:
    """The absences not over by ``today`` (current and planned), soonest first."""
    return session.scalars(
        select(RepAbsence)
        .where(RepAbsence.ends_on >= today)
        .order_by(RepAbsence.starts_on, RepAbsence.rep_email, RepAbsence.id)
    ).all()


def absent_on(session: Session, day: date) -> frozenset[str]:
    """The reps away on ``day``."""
    return frozenset(
        session.scalars(
            select(RepAbsence.rep_email).where(
                RepAbsence.starts_on <= day, RepAbsence.ends_on >= day
            )
        )
    )


def assignable_reps(session: Session, *, now: datetime) -> list[Rep]:
    """The reps who can take a lead at ``now``: available and not away that (UTC) day.
    What the owner lists offer and what a reassignment by hand accepts."""
    away = absent_on(session, now.astimezone(UTC).date())
    reps = session.scalars(select(Rep).where(Rep.available.is_(True)).order_by(Rep.name, Rep.email))
    return [rep for rep in reps if rep.email not in away]


def size_band(employees: int | None) -> str | None:
    if employees is None:
        return None
    return next(label for lower, label in SIZE_BANDS if employees >= lower)


def _facts(lead: Lead, account: Account | None) -> dict[str, str | None]:
    return {
        "country": (lead.country or (account.country if account else None) or "").upper() or None,
        "industry": (account.industry or "").lower() or None if account else None,
        "size_band": size_band(account.employees) if account else None,
        "tier": (account.tier or "").lower() or None if account else None,
    }


def _in_territory(rep: Rep, facts: dict[str, str | None]) -> bool:
    for rule in rep.territories or []:
        ok = True
        for key, values in rule.items():
            fact = facts.get(key)
            wanted = {str(v).upper() if key == "country" else str(v).lower() for v in values}
            if fact is None or fact not in wanted:
                ok = False
                break
        if ok and rule:
            return True
    return False


def _round_robin(reps: Sequence[Rep]) -> Rep | None:
    """The rep furthest behind its share: weights hold over time, ties by email."""
    if not reps:
        return None
    return min(reps, key=lambda rep: ((rep.assigned + 1) / rep.weight, rep.email))


def choose_owner(
    session: Session,
    *,
    lead: Lead,
    fallback: str,
    now: datetime,
    exclude: frozenset[str] = frozenset(),
    use_account_owner: bool = True,
) -> tuple[str, str]:
    """(owner, how): account owner, territory, round robin or the fallback queue.

    Territory and round robin consider the reps that are available and not away on
    ``now``'s date (UTC).
    """
    account = session.get(Account, lead.account_id) if lead.account_id else None
    if use_account_owner and account is not None and account.owner and account.owner not in exclude:
        return account.owner, "account owner"
    away = exclude | absent_on(session, now.astimezone(UTC).date())
    reps = [
        rep
        for rep in session.scalars(select(Rep).where(Rep.available.is_(True)))
        if rep.email not in away
    ]
    facts = _facts(lead, account)
    territory = [rep for rep in reps if _in_territory(rep, facts)]
    chosen = _round_robin(territory)
    how = "territory"
    if chosen is None:
        chosen, how = _round_robin(reps), "round robin"
    if chosen is None:
        return fallback, "fallback queue"
    chosen.assigned += 1
    return chosen.email, how
