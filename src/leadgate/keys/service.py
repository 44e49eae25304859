"""Creating, checking and revoking API keys.

A key is ``lg_<scope>_<40 random characters>``: 238 bits from the OS's random
source, so one SHA-256 of it is enough to store (a slow password hash protects
guessable secrets; these are not guessable) and a lookup is one indexed query.
Scopes nest: ``admin`` can do what ``sales`` can, and ``sales`` does not imply
``ingest`` (a website's write key should never read leads, and a sales tool has
no reason to write events).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.common.ids import new_id
from leadgate.common.origins import normalize_origin
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.keys.models import ApiKey
from leadgate.users.models import User

__all__ = [
    "SCOPES",
    "Scope",
    "allows",
    "authenticate",
    "create_key",
    "list_keys",
    "normalize_origin",
    "public_origins",
    "revoke_key",
]


class Scope(StrEnum):
    """What a key may do."""

    INGEST = "ingest"  # the tracking endpoints only
    SALES = "sales"  # read leads, move them, work tasks
    ADMIN = "admin"  # everything


SCOPES = tuple(scope.value for scope in Scope)
_GRANTS = {
    Scope.INGEST: frozenset({Scope.INGEST}),
    Scope.SALES: frozenset({Scope.SALES}),
    Scope.ADMIN: frozenset(Scope),
}


def allows(held: Scope | str, needed: Scope | str) -> bool:
    """True when a key of scope ``held`` may call an endpoint that needs ``needed``."""
    return Scope(needed) in _GRANTS[Scope(held)]


def public_origins(session: Session) -> set[str]:
    """Every origin a live public key allows (a browser's preflight carries no key)."""
    rows = session.scalars(
        select(ApiKey.origins).where(ApiKey.revoked_at.is_(None), ApiKey.origins.is_not(None))
    )
    return {origin for origins in rows if origins for origin in origins}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    session: Session,
    *,
    name: str,
    scope: str,
    now: datetime,
    user_id: str | None = None,
    origins: Sequence[str] = (),
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret (shown once, never stored).

    With ``user_id`` the key belongs to that user (an existing, enabled one) and acts
    as them: their role limits what it sees and moves, and history names them.
    With ``origins`` it is a public ingest key for web pages on those sites: it only
    calls the tracking endpoints, from those origins (docs/website-tracking.md).
    """
    try:
        chosen = Scope(scope)
    except ValueError:
        raise LeadgateError(f"unknown scope {scope!r}; scopes are {', '.join(SCOPES)}") from None
    name = name.strip()
    if not name or len(name) > 200:
        raise LeadgateError("a key needs a name of 1 to 200 characters (who or what uses it)")
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"no user {user_id!r}")
        if user.disabled_at is not None:
            raise LeadgateError(f"user {user.email} is disabled: a key of theirs would not work")
    allowed = sorted({normalize_origin(origin) for origin in origins})
    if allowed and chosen is not Scope.INGEST:
        raise LeadgateError("--origin makes a public key for web pages: only ingest keys can be")
    if allowed and user_id is not None:
        raise LeadgateError("a public key (with origins) cannot act as a user")
    secret = f"lg_{chosen.value}_{secrets.token_urlsafe(30)}"
    key = ApiKey(
        id=new_id("key"),
        name=name,
        scope=chosen.value,
        prefix=secret[: len(chosen.value) + 8],
        secret_hash=_digest(secret),
        created_at=now,
        revoked_at=None,
        user_id=user_id,
        origins=allowed or None,
    )
    session.add(key)
    session.flush()
    return key, secret


def authenticate(session: Session, *, secret: str) -> ApiKey | None:
    """The live key with this secret, or None (unknown or revoked)."""
    if not secret or len(secret) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == _digest(secret)))
    if key is None or key.revoked_at is not None:
        return None
    return key


def list_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).all()


def revoke_key(session: Session, *, key_id: str, now: datetime) -> ApiKey:
    """Revoke a key by id or prefix; it stops working at once."""
    key = session.get(ApiKey, key_id) or session.scalar(
        select(ApiKey).where(ApiKey.prefix == key_id)
    )
    if key is None:
        raise NotFoundError(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = now
    return key
