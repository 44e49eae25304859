"""Which tracking calls leadgate must not keep: bots, and visitors who declined consent.

Pure and cheap, run on every Segment/RudderStack message before anything is stored:

* **bots**: ``context.userAgent`` (the visitor's browser, as the SDK reports it;
  never the HTTP request's own header, which a server-side source sets to its
  library's) matched against the maintained crawler list of the
  ``crawler-user-agents`` package (crawlers, headless and automated browsers such
  as ``HeadlessChrome``, ``PhantomJS``, ``Playwright``, HTTP libraries such as
  ``curl`` and ``python-requests``). Results are cached by user agent: the same few
  strings come back all day, and a miss costs the ~1,500-pattern search.
* **consent**: Segment's ``context.consent.categoryPreferences`` (category ->
  bool) and RudderStack's ``context.consentManagement`` (``allowedConsentIds``,
  ``deniedConsentIds``), read against the categories that must be granted
  (``LEADGATE_CONSENT_REQUIRED``, compared case-insensitively). A message with no
  consent context is kept (sites without a consent manager); one whose consent
  context cannot be read is treated as declined (a consent manager was there, and
  what the visitor said is unknown).

A screened message is acknowledged (the SDK must not retry it) and counted, and
nothing of it is stored: see docs/website-tracking.md, "Bots and consent".
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import crawleruseragents

from leadgate.config import Settings

__all__ = [
    "DEFAULT_CONSENT_REQUIRED",
    "ScreeningPolicy",
    "Verdict",
    "bot_pattern",
    "consent_declined",
    "current_policy",
    "log_screened",
    "screen",
]

log = logging.getLogger("leadgate.serve")

#: What leadgate does with tracking data (score leads for marketing and sales):
#: both purposes must be granted when the visitor's consent manager says anything.
DEFAULT_CONSENT_REQUIRED = "analytics,marketing"
#: Only the start of a user agent is matched (and cached): a real one is far
#: shorter, and a huge one must not cost a huge search.
_UA_CHARS = 512


class Verdict(StrEnum):
    """What becomes of one message: kept, or screened out (the value is the reason)."""

    KEEP = "keep"
    BOT = "bot"
    DECLINED = "declined"


@dataclass(frozen=True)
class ScreeningPolicy:
    """Whether bots are screened, and the consent categories that must be granted
    (lower-case; empty: consent is not read)."""

    screen_bots: bool = True
    consent_required: frozenset[str] = frozenset(DEFAULT_CONSENT_REQUIRED.split(","))

    @classmethod
    def of(
        cls, *, screen_bots: bool = True, consent_required: str | Iterable[str]
    ) -> ScreeningPolicy:
        """A policy from a comma-separated list (or names) of required categories."""
        names = (
            consent_required.split(",") if isinstance(consent_required, str) else consent_required
        )
        return cls(
            screen_bots=screen_bots,
            consent_required=frozenset(n.strip().lower() for n in names if n.strip()),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ScreeningPolicy:
        """The policy ``LEADGATE_SCREEN_BOTS`` and ``LEADGATE_CONSENT_REQUIRED`` say."""
        return cls.of(screen_bots=settings.screen_bots, consent_required=settings.consent_required)


@lru_cache(maxsize=16)
def _policy_for(_consent: str | None, _bots: str | None) -> ScreeningPolicy:
    return ScreeningPolicy.from_settings(Settings())


def current_policy() -> ScreeningPolicy:
    """The policy of the environment now, built once per value of its two variables
    (reading every setting costs about a millisecond; this runs for every request)."""
    return _policy_for(
        os.environ.get("LEADGATE_CONSENT_REQUIRED"), os.environ.get("LEADGATE_SCREEN_BOTS")
    )


@lru_cache(maxsize=1)
def _crawlers() -> re.Pattern[str]:
    """The maintained list as one pattern (case-sensitive, as its patterns are written)."""
    data: list[dict[str, Any]] = crawleruseragents.CRAWLER_USER_AGENTS_DATA
    return re.compile("|".join(f"(?:{entry['pattern']})" for entry in data))


@lru_cache(maxsize=4096)
def _matched(user_agent: str) -> str | None:
    found = _crawlers().search(user_agent)
    return None if found is None else found.group(0)


def bot_pattern(user_agent: object) -> str | None:
    """The part of ``user_agent`` that names a crawler or automated browser, or None
    (also for anything that is not a non-empty string)."""
    if not isinstance(user_agent, str) or not user_agent.strip():
        return None
    return _matched(user_agent[:_UA_CHARS])


def _names(value: object) -> frozenset[str] | None:
    """A consent id list as lower-case names; raises ValueError when it is not a list."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("consent ids are not a list")
    return frozenset(str(item).strip().lower() for item in value if isinstance(item, str | int))


def _segment_declines(consent: object, required: frozenset[str]) -> bool:
    if consent is None:
        return False
    if not isinstance(consent, Mapping):
        raise ValueError("context.consent is not an object")
    preferences = consent.get("categoryPreferences")
    if preferences is None:
        return False
    if not isinstance(preferences, Mapping):
        raise ValueError("categoryPreferences is not an object")
    for category, granted in preferences.items():
        if str(category).strip().lower() in required and granted is not True:
            return True  # false, or an answer that is not a yes
    return False


def _rudderstack_declines(management: object, required: frozenset[str]) -> bool:
    if management is None:
        return False
    if not isinstance(management, Mapping):
        raise ValueError("context.consentManagement is not an object")
    denied = _names(management.get("deniedConsentIds"))
    allowed = _names(management.get("allowedConsentIds"))
    if denied is not None and required & denied:
        return True
    return allowed is not None and not required <= allowed


def consent_declined(context: object, required: frozenset[str]) -> bool:
    """Whether the message's consent context denies a required category.

    Segment: a required category mapped to anything but ``true``. RudderStack: a
    required id in ``deniedConsentIds``, or missing from ``allowedConsentIds`` when
    that list is sent. No consent context: not declined; one that cannot be read:
    declined.
    """
    if not required or not isinstance(context, Mapping):
        return False
    try:
        return _segment_declines(context.get("consent"), required) or _rudderstack_declines(
            context.get("consentManagement"), required
        )
    except ValueError:
        return True


def screen(raw_message: Mapping[str, Any], policy: ScreeningPolicy) -> Verdict:
    """Whether a raw tracking message is kept, or screened out as a bot's or as a
    visitor's who declined (any message type; malformed input is never an error)."""
    context = raw_message.get("context")
    if not isinstance(context, Mapping):
        return Verdict.KEEP
    if policy.screen_bots and bot_pattern(context.get("userAgent")) is not None:
        return Verdict.BOT
    if consent_declined(context, policy.consent_required):
        return Verdict.DECLINED
    return Verdict.KEEP


def log_screened(counts: Mapping[str, int], *, key_id: str | None) -> None:
    """Log a request's screened messages with its key (nothing when there were none)."""
    if counts:
        text = ", ".join(f"{reason} {count}" for reason, count in sorted(counts.items()))
        log.info("screened tracking calls, key %s: %s", key_id or "-", text)
