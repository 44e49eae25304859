"""Marketing attribution of tracking calls: touches and their default channel grouping.

Pure functions (no I/O, no clock): :func:`touch_from_context` reads a tracking
call's ``context`` (Segment's ``context.campaign`` UTM object, else ``utm_*`` in
``context.page.url``/``context.page.search``, Google/Microsoft Ads click ids,
``context.page.referrer``) into a :class:`Touch`; :func:`channel_for` puts it in
one channel of a grouping modelled on Google Analytics 4's default channel
groups (rules in :data:`CHANNEL_RULES`, evaluated in order, first match wins);
:func:`merge_touch` folds a touch into a lead's :class:`Attribution`.

* **First touch** is the earliest touch by event time, whatever order the calls
  arrive in (a replayed anonymous page view, or a late delivery, corrects it).
* **Latest touch** is "last non-direct", as GA does: the latest touch that is
  not ``direct``; a direct visit replaces it only while the lead has no other.
  There is no look-back window: a direct visit a year later leaves the campaign.
* Source and medium are lower-cased (``LinkedIn`` and ``linkedin`` are one
  source); campaigns keep their case. Everything is attacker-controlled: values
  that are not text or numbers are ignored, control characters dropped, text
  truncated to the column sizes (:data:`LIMITS`); a call never fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "CHANNEL_RULES",
    "CLICK_IDS",
    "EMAIL_HOSTS",
    "LIMITS",
    "PAID_MEDIUM",
    "SEARCH_SITES",
    "SOCIAL_SITES",
    "VIDEO_SITES",
    "Attribution",
    "Channel",
    "ChannelRule",
    "StoredTouch",
    "Touch",
    "channel_for",
    "clean_text",
    "merge_touch",
    "site_of",
    "touch_from_context",
]


class Channel(StrEnum):
    """The default channel groups (GA4's names in snake case; GA's shopping, audio,
    SMS, push and cross-network groups fall in ``other``)."""

    DIRECT = "direct"
    PAID_SEARCH = "paid_search"
    PAID_SOCIAL = "paid_social"
    PAID_VIDEO = "paid_video"
    DISPLAY = "display"
    PAID_OTHER = "paid_other"
    ORGANIC_SOCIAL = "organic_social"
    ORGANIC_VIDEO = "organic_video"
    ORGANIC_SEARCH = "organic_search"
    REFERRAL = "referral"
    EMAIL = "email"
    AFFILIATE = "affiliate"
    OTHER = "other"


#: Column sizes of the stored fields (``leads.first_touch_*``); longer text is cut.
LIMITS: Mapping[str, int] = {
    "source": 200,
    "medium": 100,
    "campaign": 300,
    "term": 300,
    "content": 300,
    "referrer": 2000,
    "landing_url": 2000,
}
#: Longest URL or query string read for parameters (the rest is ignored).
_URL_READ = 8192

#: Search engines: a bare name matches ``utm_source=google`` and any host with that
#: label before its suffix (``www.google.co.uk``); a dotted name matches that host
#: and its subdomains.
SEARCH_SITES: frozenset[str] = frozenset(
    {
        "google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "qwant",
        "startpage", "search.brave.com", "naver", "seznam", "ask", "aol", "sogou",
        "kagi.com", "search.yahoo.com", "msn",
    }
)  # fmt: skip
#: Social networks (same matching as :data:`SEARCH_SITES`).
SOCIAL_SITES: frozenset[str] = frozenset(
    {
        "linkedin", "lnkd.in", "facebook", "fb", "fb.me", "instagram", "x", "x.com",
        "twitter", "t.co", "reddit", "pinterest", "threads.net", "bsky.app", "mastodon",
        "mastodon.social", "tiktok", "snapchat", "quora", "xing", "discord",
        "t.me", "telegram", "whatsapp", "news.ycombinator.com", "vk", "weibo",
    }
)  # fmt: skip
#: Video sites (GA4 has them apart from social).
VIDEO_SITES: frozenset[str] = frozenset(
    {"youtube", "youtu.be", "vimeo", "twitch", "dailymotion", "wistia", "loom.com"}
)
#: Web mail hosts: a click from a mail read in the browser is e-mail, not referral.
EMAIL_HOSTS: frozenset[str] = frozenset(
    {
        "mail.google.com", "outlook.live.com", "outlook.office.com", "outlook.office365.com",
        "mail.yahoo.com", "mail.aol.com", "mail.proton.me", "email.seznam.cz",
        "mail.yandex.ru", "mail.zoho.com",
    }
)  # fmt: skip
#: Ad click ids that mean a paid search click when the URL has no ``utm_source``.
CLICK_IDS: Mapping[str, tuple[str, str]] = {
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "msclkid": ("bing", "cpc"),
}
#: GA4's paid medium: anything with ``cp`` (cpc, cpm, cpv), ppc, retargeting, paid*.
PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_EMAIL = re.compile(r"e[-_ ]?mail")
_DISPLAY_MEDIA = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL_MEDIA = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def site_of(host: str) -> str:
    """A host without ``www.`` (the form sources take from referrers)."""
    host = host.strip().lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _on_list(source: str, sites: frozenset[str]) -> bool:
    """Whether a source (a name or a host) is one of ``sites`` (see :data:`SEARCH_SITES`)."""
    if not source:
        return False
    if source in sites:
        return True
    labels = source.split(".")
    for index in range(len(labels)):
        suffix = ".".join(labels[index:])
        if index and suffix in sites and "." in suffix:
            return True
        rest = labels[index + 1 :]
        # ``google.co.uk``: the name, then only a (two-level) public suffix
        if labels[index] in sites and 0 < len(rest) <= 2 and all(len(p) <= 3 for p in rest):
            return True
    return False


@dataclass(frozen=True)
class Touch:
    """One visit's (or call's) marketing origin; ``source``/``medium`` lower-cased,
    ``referrer`` only when it is another site's."""

    at: datetime
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    referrer: str | None = None
    landing_url: str | None = None

    @property
    def channel(self) -> Channel:
        """The default channel group (:func:`channel_for`)."""
        return channel_for(self)


@dataclass(frozen=True)
class ChannelRule:
    """One row of the grouping: the channel and when a touch is in it."""

    channel: Channel
    description: str
    test: Callable[[str, str, str], bool]  # (source, medium, campaign) -> matches


def _paid(medium: str) -> bool:
    return bool(PAID_MEDIUM.match(medium))


def _search(source: str) -> bool:
    # mail.google.com is Gmail, not Google Search
    return _on_list(source, SEARCH_SITES) and not _on_list(source, EMAIL_HOSTS)


#: The default channel grouping, evaluated in order (first match wins), after
#: ``direct`` (no source, medium or campaign: no UTM, no click id, no other site's
#: referrer).
CHANNEL_RULES: tuple[ChannelRule, ...] = (
    ChannelRule(
        Channel.PAID_SEARCH,
        "search-engine source and a paid medium",
        lambda s, m, c: _search(s) and _paid(m),
    ),
    ChannelRule(
        Channel.PAID_SOCIAL,
        "social source and a paid medium",
        lambda s, m, c: _on_list(s, SOCIAL_SITES) and _paid(m),
    ),
    ChannelRule(
        Channel.PAID_VIDEO,
        "video source and a paid medium",
        lambda s, m, c: _on_list(s, VIDEO_SITES) and _paid(m),
    ),
    ChannelRule(
        Channel.DISPLAY,
        "medium display, banner, expandable, interstitial or cpm",
        lambda s, m, c: m in _DISPLAY_MEDIA,
    ),
    ChannelRule(Channel.PAID_OTHER, "any other paid medium", lambda s, m, c: _paid(m)),
    ChannelRule(
        Channel.ORGANIC_SOCIAL,
        "social source, or medium social, social-network, social-media, sm",
        lambda s, m, c: _on_list(s, SOCIAL_SITES) or m in _SOCIAL_MEDIA,
    ),
    ChannelRule(
        Channel.ORGANIC_VIDEO,
        "video source, or a medium containing video",
        lambda s, m, c: _on_list(s, VIDEO_SITES) or "video" in m,
    ),
    ChannelRule(
        Channel.ORGANIC_SEARCH,
        "search-engine source, or medium organic",
        lambda s, m, c: _search(s) or m == "organic",
    ),
    ChannelRule(
        Channel.EMAIL,
        "source or medium email, e-mail, e_mail, e mail; or a web mail referrer",
        lambda s, m, c: bool(_EMAIL.search(s) or _EMAIL.search(m)) or _on_list(s, EMAIL_HOSTS),
    ),
    ChannelRule(
        Channel.REFERRAL,
        "medium referral, app or link (another site's referrer without UTM)",
        lambda s, m, c: m in ("referral", "app", "link"),
    ),
    ChannelRule(Channel.AFFILIATE, "medium affiliate", lambda s, m, c: m == "affiliate"),
)


def channel_for(touch: Touch) -> Channel:
    """The default channel group of a touch (see :data:`CHANNEL_RULES`)."""
    source, medium, campaign = touch.source or "", touch.medium or "", touch.campaign or ""
    if not (source or medium or campaign):
        return Channel.DIRECT
    for rule in CHANNEL_RULES:
        if rule.test(source, medium, campaign):
            return rule.channel
    return Channel.OTHER


def clean_text(value: Any, limit: int) -> str | None:
    """Text of an attacker-controlled value: a str or a number, control characters
    and repeated blanks dropped, at most ``limit`` characters; anything else is None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = _CONTROL.sub(" ", str(value)[: limit * 2])
    return " ".join(text.split())[:limit].strip() or None


def _clean(value: Any, field: str, *, lower: bool = False) -> str | None:
    text = clean_text(value, LIMITS[field])
    return text.lower() if lower and text else text


def _split(url: str) -> tuple[str | None, dict[str, str]]:
    """The host and the (first of each) query parameters of a URL, or nothing."""
    try:
        parts = urlsplit(url[:_URL_READ])
        host = parts.hostname if parts.scheme in ("http", "https") else None
        params: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, max_num_fields=200):
            params.setdefault(key.lower(), value)
    except ValueError:
        return None, {}
    return host, params


def _query(search: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(search[:_URL_READ].lstrip("?"), max_num_fields=200)
    except ValueError:
        return {}
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key.lower(), value)
    return params


def _same_site(host: str, landing: str | None) -> bool:
    """Whether a referrer host is the landing page's site (or a subdomain of it)."""
    if landing is None:
        return False
    one, two = site_of(host), site_of(landing)
    return one == two or one.endswith("." + two) or two.endswith("." + one)


def touch_from_context(context: Mapping[str, Any], at: datetime) -> Touch | None:
    """The touch of a call's ``context``, or None when it has neither ``campaign``
    nor ``page`` (a server-side call: no visit to attribute)."""
    campaign = context.get("campaign")
    page = context.get("page")
    if not isinstance(campaign, Mapping) and not isinstance(page, Mapping):
        return None
    page = page if isinstance(page, Mapping) else {}
    url = page.get("url") if isinstance(page.get("url"), str) else None
    landing_host, params = _split(url) if url else (None, {})
    search = page.get("search")
    if isinstance(search, str) and search:
        params = {**_query(search), **params}
    if isinstance(campaign, Mapping) and campaign:
        utm: Mapping[str, Any] = {
            "source": campaign.get("source"),
            "medium": campaign.get("medium"),
            "campaign": campaign.get("name"),
            "term": campaign.get("term"),
            "content": campaign.get("content"),
        }
    else:
        utm = {
            key: params.get(f"utm_{name}")
            for key, name in (
                ("source", "source"),
                ("medium", "medium"),
                ("campaign", "campaign"),
                ("term", "term"),
                ("content", "content"),
            )
        }
    source = _clean(utm["source"], "source", lower=True)
    medium = _clean(utm["medium"], "medium", lower=True)
    if source is None and medium is None:
        for click_id, (click_source, click_medium) in CLICK_IDS.items():
            if params.get(click_id):
                source, medium = click_source, click_medium
                break
    raw_referrer = page.get("referrer")
    referrer = None
    if isinstance(raw_referrer, str) and raw_referrer:
        host, _ = _split(raw_referrer)
        if host and not _same_site(host, landing_host):
            referrer = _clean(raw_referrer, "referrer")
            if source is None and medium is None and utm["campaign"] is None:
                source = _clean(site_of(host), "source", lower=True)
                medium = "organic" if _search(source or "") else "referral"
    return Touch(
        at=at,
        source=source,
        medium=medium,
        campaign=_clean(utm["campaign"], "campaign"),
        term=_clean(utm["term"], "term"),
        content=_clean(utm["content"], "content"),
        referrer=referrer,
        landing_url=_clean(url, "landing_url"),
    )


@dataclass(frozen=True)
class StoredTouch:
    """What a lead keeps of a touch (the ``leads.*_touch_*`` columns)."""

    at: datetime
    source: str | None
    medium: str | None
    campaign: str | None
    channel: str

    @classmethod
    def of(cls, touch: Touch) -> StoredTouch:
        """The stored form of a touch (its channel computed now)."""
        return cls(touch.at, touch.source, touch.medium, touch.campaign, touch.channel.value)

    def order_key(self) -> tuple[datetime, str, str, str, str]:
        """Time, then the fields: equal instants order the same whatever the arrival order."""
        return (self.at, self.channel, self.source or "", self.medium or "", self.campaign or "")

    @property
    def direct(self) -> bool:
        """Whether the touch is in the ``direct`` channel."""
        return self.channel == Channel.DIRECT


@dataclass(frozen=True)
class Attribution:
    """A lead's first touch (earliest) and latest touch (last non-direct)."""

    first: StoredTouch | None = None
    latest: StoredTouch | None = None


def _recency(touch: StoredTouch) -> tuple[bool, tuple[datetime, str, str, str, str]]:
    """Last non-direct: any other touch is more recent than a direct one."""
    return (not touch.direct, touch.order_key())


def merge_touch(current: Attribution, touch: Touch | StoredTouch) -> Attribution:
    """``current`` with one more touch: the same result whatever order touches come in."""
    new = touch if isinstance(touch, StoredTouch) else StoredTouch.of(touch)
    first = current.first
    if first is None or new.order_key() < first.order_key():
        first = new
    latest = current.latest
    if latest is None or _recency(new) > _recency(latest):
        latest = new
    return replace(current, first=first, latest=latest)
