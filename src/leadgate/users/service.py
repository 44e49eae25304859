"""Users, passwords and sign-in sessions, and what each role may see and do.

Passwords are hashed with argon2id (``argon2-cffi``); a session cookie carries a
random token whose SHA-256 is what the ``web_sessions`` table stores. Roles:

* ``rep``: their own leads (owner is their rep record) and the unassigned queue;
* ``manager``: the leads of the reps whose manager they are, their own, and the
  unassigned queue;
* ``marketing``: every lead, read only (sales moves belong to sales), except that
  marketing may adjust any lead's score by hand (the model is marketing's too);
* ``admin``: everything, and the settings.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadgate.common.ids import new_id
from leadgate.exceptions import LeadgateError, NotFoundError, PermissionDeniedError
from leadgate.leads.models import Lead
from leadgate.reps.models import Rep
from leadgate.users.models import User, WebSession

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "Role",
    "Viewer",
    "check_password",
    "create_user",
    "disable_user",
    "end_session",
    "find_user",
    "list_users",
    "require_act",
    "require_adjust",
    "require_see",
    "reset_password",
    "resolve_session",
    "set_password_cost",
    "start_session",
    "user_dict",
    "viewer_for",
]

MIN_PASSWORD = 10
UNASSIGNED_PREFIX = "queue:"


class _Hashing:
    """The password hasher (argon2id, the library's RFC 9106 parameters by default)
    and a hash checked when the email is unknown, so a wrong email costs what a
    wrong password does."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.use(hasher)

    def use(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.dummy = hasher.hash(secrets.token_urlsafe(16))


_HASHING = _Hashing(PasswordHasher())


def set_password_cost(*, time_cost: int, memory_cost_kib: int) -> None:
    """Hash new passwords with other argon2 costs (a test suite that creates many
    users lowers them; production keeps the defaults). Stored hashes carry their
    own parameters: they verify either way, and sign-in rehashes one whose cost
    differs from the current one."""
    _HASHING.use(PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib))


class Role(StrEnum):
    """What a user may see and do (see the module docstring)."""

    REP = "rep"
    MANAGER = "manager"
    MARKETING = "marketing"
    ADMIN = "admin"


ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True)
class Viewer:
    """A signed-in user (or a user's API key) as the checks see them.

    ``team`` holds the rep records whose leads they work: their own (rep), their own
    and their reports' (manager); None for roles that see every lead.
    """

    user_id: str
    email: str
    name: str
    role: Role
    rep_email: str | None
    team: frozenset[str] | None
    time_zone: str = "UTC"

    @property
    def actor(self) -> str:
        """How history rows name this user."""
        return f"user:{self.email}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def acts_on_sales(self) -> bool:
        """Marketing reads the queue; moving leads is sales' (and admin's) call."""
        return self.role is not Role.MARKETING

    def sees_owner(self, owner: str | None) -> bool:
        """True when a lead owned by ``owner`` is in this user's view."""
        if self.team is None:
            return True
        return owner is None or owner.startswith(UNASSIGNED_PREFIX) or owner in self.team


def _email(value: str) -> str:
    email = value.strip().lower()
    if "@" not in email or len(email) > 320 or email.startswith("@") or email.endswith("@"):
        raise LeadgateError(f"{value!r} is not an email address")
    return email


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise LeadgateError(
            f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return value


def _password(value: str) -> str:
    if len(value) < MIN_PASSWORD:
        raise LeadgateError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(value) > 1000:
        raise LeadgateError("a password may have at most 1000 characters")
    return value


def user_dict(user: User) -> dict[str, object]:
    """A user as the CLI and the pages list them (never the password hash)."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "time_zone": user.time_zone,
        "rep": user.rep_email,
        "disabled": user.disabled_at is not None,
        "created_at": user.created_at.isoformat(),
    }


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    now: datetime,
    rep: str | None = None,
    time_zone: str = "UTC",
) -> User:
    """A new user; the email must be free and a ``--rep`` must name an existing rep."""
    address = _email(email)
    try:
        chosen = Role(role)
    except ValueError:
        raise LeadgateError(f"unknown role {role!r}; roles are {', '.join(ROLES)}") from None
    name = name.strip()
    if not name or len(name) > 200:
        raise LeadgateError("a user needs a name of 1 to 200 characters")
    rep_email = None
    if rep is not None:
        rep_email = rep.strip().lower()
        if session.get(Rep, rep_email) is None:
            raise NotFoundError(f"no rep {rep!r} (create it first: PUT /api/v1/reps)")
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise LeadgateError(f"a user {address} already exists")
    user = User(
        id=new_id("usr"),
        email=address,
        name=name,
        role=chosen.value,
        time_zone=_time_zone(time_zone),
        rep_email=rep_email,
        password_hash=_HASHING.hasher.hash(_password(password)),
        disabled_at=None,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, *, ref: str) -> User:
    """A user by id or email (404 otherwise)."""
    user = session.get(User, ref) or session.scalar(
        select(User).where(User.email == ref.strip().lower())
    )
    if user is None:
        raise NotFoundError(f"no user {ref!r}")
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.email)).all()


def _end_sessions_of(session: Session, user_id: str) -> None:
    session.execute(update(WebSession).where(WebSession.user_id == user_id).values(ended=True))


def disable_user(session: Session, *, ref: str, now: datetime) -> User:
    """The user can no longer sign in, and every session of theirs ends now."""
    user = find_user(session, ref=ref)
    if user.disabled_at is None:
        user.disabled_at = now
        user.updated_at = now
    _end_sessions_of(session, user.id)
    return user


def reset_password(session: Session, *, ref: str, password: str, now: datetime) -> User:
    """A new password; the user's sessions end (a stolen one stops working)."""
    user = find_user(session, ref=ref)
    user.password_hash = _HASHING.hasher.hash(_password(password))
    user.updated_at = now
    _end_sessions_of(session, user.id)
    return user


def check_password(session: Session, *, email: str, password: str) -> User | None:
    """The enabled user with this email and password, or None (costs the same either way)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _HASHING.hasher.verify(user.password_hash if user is not None else _HASHING.dummy, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _HASHING.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHING.hasher.hash(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    session: Session, *, user: User, now: datetime, lifetime: timedelta, purpose: str = "signin"
) -> tuple[WebSession, str]:
    """A new session for ``user``; returns the row and the cookie's token (never stored)."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        purpose=purpose,
        ended=False,
    )
    session.add(row)
    session.flush()
    return row, token


def resolve_session(
    session: Session, *, token: str, now: datetime, idle: timedelta, purpose: str = "signin"
) -> tuple[WebSession, User] | None:
    """The live session of this token and its user, or None (unknown, ended, expired,
    idle longer than ``idle``, or its user disabled)."""
    if not token or len(token) > 200:
        return None
    row = session.get(WebSession, _digest(token))
    if row is None or row.ended or row.purpose != purpose:
        return None
    if now >= row.expires_at or now - row.last_seen_at > idle:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    return row, user


def end_session(session: Session, *, token: str) -> None:
    """Sign out: the token stops working at once."""
    row = session.get(WebSession, _digest(token))
    if row is not None:
        row.ended = True


def viewer_for(session: Session, user: User) -> Viewer:
    """The checks' view of ``user``: which reps' leads they work."""
    role = Role(user.role)
    team: frozenset[str] | None
    if role is Role.REP:
        team = frozenset({user.rep_email} if user.rep_email else set())
    elif role is Role.MANAGER:
        reports = session.scalars(select(Rep.email).where(Rep.manager == user.email))
        team = frozenset({*reports, user.email, *([user.rep_email] if user.rep_email else [])})
    else:
        team = None
    return Viewer(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=role,
        rep_email=user.rep_email,
        team=team,
        time_zone=user.time_zone,
    )


def require_see(viewer: Viewer, lead: Lead) -> None:
    """403 unless ``lead`` is in the viewer's view."""
    if not viewer.sees_owner(lead.owner):
        raise PermissionDeniedError(f"lead {lead.id} belongs to another team")


def require_act(viewer: Viewer, lead: Lead) -> None:
    """403 unless the viewer may move, reassign or work ``lead``."""
    require_see(viewer, lead)
    if not viewer.acts_on_sales:
        raise PermissionDeniedError(f"a {viewer.role.value} user cannot act on leads")


def require_adjust(viewer: Viewer, lead: Lead) -> None:
    """403 unless the viewer may adjust ``lead``'s score by hand: a rep or manager on
    the leads they work (as :func:`require_act`), marketing and admin on every lead
    (the scoring model is marketing's as much as sales' judgement is sales')."""
    if viewer.role is Role.MARKETING:
        require_see(viewer, lead)
        return
    require_act(viewer, lead)
