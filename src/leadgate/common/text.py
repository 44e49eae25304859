"""Normalisation of the values every domain shares: emails, domains, timestamps, blanks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "blank_to_none",
    "normalize_domain",
    "normalize_email",
    "parse_timestamp",
    "parse_timezone",
]

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")
_DOMAIN_RE = re.compile(r"^[^\s/@:]+\.[^\s/@:.]+$")


def blank_to_none(value: Any) -> Any:
    """Empty or whitespace-only text means "no value" (CSV cells, form fields)."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return value


def normalize_email(value: str) -> tuple[str, str]:
    """Return ``(email, key)``: the trimmed address and its lower-cased identity key."""
    email = value.strip()
    if len(email) > 320 or not _EMAIL_RE.match(email):
        raise ValueError(f"{email[:80]!r} is not an email address")
    return email, email.lower()


def normalize_domain(value: str) -> str:
    """``https://www.Acme.com/about`` -> ``acme.com``."""
    domain = value.strip().lower()
    domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", domain)
    domain = domain.split("/", 1)[0].split("?", 1)[0]
    domain = domain.removeprefix("www.").rstrip(".")
    if "@" in domain:
        domain = domain.rsplit("@", 1)[1]
    if len(domain) > 255 or not _DOMAIN_RE.match(domain):
        raise ValueError(f"{value[:80]!r} is not a domain name")
    return domain


def parse_timezone(name: str) -> tzinfo:
    """A time zone by IANA name (``Europe/Prague``) or ``UTC``."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Prague"
        ) from None


def parse_timestamp(value: Any, *, assume_tz: tzinfo | None = None) -> datetime:
    """Parse an ISO 8601 timestamp into an aware UTC datetime.

    A timestamp without a time zone is refused unless ``assume_tz`` says which
    zone it was written in: guessing would silently shift events by hours.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if not text:
            raise ValueError("timestamp is empty")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text[:60]!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if assume_tz is None:
            raise ValueError(
                f"timestamp {parsed.isoformat()} has no time zone; add one (Z or +01:00) "
                "or pass --assume-tz"
            )
        parsed = parsed.replace(tzinfo=assume_tz)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp {parsed.isoformat()} is out of range") from None
