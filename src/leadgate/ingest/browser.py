"""What tracking calls from web pages need: CORS for the sites keys allow, a rate
limit per public key and client address, and Segment's clock-skew correction.

Browser SDKs (Segment's ``@segment/analytics-next``, RudderStack's JavaScript SDK)
call the ``/v1`` endpoints from the marketing site's origin. A preflight carries no
key, so it is answered for any origin some live public key (``leadgate keys create
--origin``) or ``LEADGATE_CORS_ORIGINS`` allows; the call itself is then checked
against its own key's origins (:func:`origin_refusal`): CORS only stops a page
from reading an answer, never a simple request from being made, so the server
refuses a call from an origin its key does not allow. See docs/website-tracking.md.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate.common.text import parse_timestamp

__all__ = [
    "AllowedOrigins",
    "RateLimiter",
    "TrackingCors",
    "correct_skew",
    "origin_refusal",
]

#: the request headers the SDKs send that a preflight may ask for
_ALLOWED_HEADERS = (
    "content-type",
    "authorization",
    "anonymousid",
    # RudderStack's XHR sends SentAt on every call, and these on retries;
    # Segment's analytics-next sends X-Retry-Count on retries
    "sentat",
    "rsa-recovered",
    "rsa-retry-attempt",
    "rsa-since-last-attempt",
    "rsa-since-first-attempt",
    "rsa-retry-reason",
    "x-retry-count",
)
_PREFLIGHT_MAX_AGE = "600"


class AllowedOrigins:
    """The origins a preflight is answered for: the configured ones and those of
    live public keys, read again at most every ``ttl`` seconds (or at once after
    :meth:`refresh`)."""

    def __init__(
        self, configured: Iterable[str], load: Callable[[], set[str]], ttl: float = 30.0
    ) -> None:
        self._configured = frozenset(configured)
        self._load = load
        self._ttl = ttl
        self._known: frozenset[str] = frozenset()
        self._read_at = -math.inf
        self._guard = threading.Lock()

    def refresh(self) -> None:
        """Read the keys' origins on the next check (a key was created or revoked)."""
        self._read_at = -math.inf

    def allows(self, origin: str) -> bool:
        """True when some key (or the settings) allows ``origin``. An unknown origin
        reads the keys again if the last read is over a second old, so a key just
        created in another process works at once (unknown origins cost at most one
        query a second)."""
        if origin in self._configured:
            return True
        now = time.monotonic()
        age = now - self._read_at
        if age > self._ttl or (origin not in self._known and age > 1.0):
            with self._guard:
                self._known = frozenset(self._load())
                self._read_at = now
        return origin in self._known


def origin_refusal(
    origin: str | None, key_origins: Iterable[str] | None, configured: Iterable[str]
) -> str | None:
    """Why a tracking call from ``origin`` is refused for a key allowing
    ``key_origins`` (None: a server key, which the configured origins apply to), or
    None when it is allowed. A public key is only used from pages, which always
    send ``Origin``."""
    if key_origins is not None:
        if origin is None:
            return "a public key is used from web pages: the request has no Origin"
        if origin not in key_origins:
            return f"origin {origin!r} is not allowed for this key"
        return None
    if origin is not None and origin not in set(configured):
        return (
            f"origin {origin!r} is not allowed: add it to LEADGATE_CORS_ORIGINS or use a "
            f"key created with --origin {origin}"
        )
    return None


class TrackingCors:
    """ASGI middleware: CORS for the tracking endpoints under ``/v1/`` and
    ``/beacon/v1/`` only (the REST API and the web app are never opened to other
    sites)."""

    def __init__(self, app: ASGIApp, origins: Callable[[], AllowedOrigins]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/v1/", "/beacon/v1/")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.origins().allows(origin.lower())
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin, allowed, headers)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                answer["access-control-allow-origin"] = origin
                answer.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, send: Send, origin: str, allowed: bool, headers: Headers) -> None:
        if not allowed:
            await _respond(send, 403, [(b"vary", b"Origin")], b"origin not allowed")
            return
        asked = [
            name.strip().lower()
            for name in headers.get("access-control-request-headers", "").split(",")
            if name.strip()
        ]
        granted = ", ".join(name for name in asked if name in _ALLOWED_HEADERS)
        answer = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"POST, OPTIONS"),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE.encode()),
            (b"vary", b"Origin"),
        ]
        if granted:
            answer.append((b"access-control-allow-headers", granted.encode("latin-1")))
        await _respond(send, 204, answer, b"")


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Token buckets per (key, client address): ``per_minute`` calls a minute, up to
    a minute's worth at once; the least recently used buckets are forgotten."""

    def __init__(self, per_minute: int, capacity: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.capacity = capacity
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._guard = threading.Lock()

    def wait(self, key: str, client: str, now: float | None = None) -> float:
        """Take one call; returns 0, or the seconds to wait before the next is allowed."""
        now = time.monotonic() if now is None else now
        with self._guard:
            tokens, at = self._buckets.pop((key, client), (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[(key, client)] = (tokens - 1.0, now)
                waited = 0.0
            else:
                self._buckets[(key, client)] = (tokens, now)
                waited = (1.0 - tokens) / self.rate
            while len(self._buckets) > self.capacity:
                self._buckets.popitem(last=False)
        return waited


def correct_skew(message: dict[str, Any], sent_at: Any, received_at: datetime) -> dict[str, Any]:
    """The message with its ``timestamp`` moved to the server's clock, as Segment
    does: ``receivedAt - (sentAt - timestamp)`` when the client sent both (a
    browser's clock may be off by hours); otherwise the message unchanged."""
    sent = message.get("sentAt", sent_at)
    when = message.get("timestamp") or message.get("originalTimestamp")
    if not isinstance(sent, str) or not isinstance(when, str):
        return message
    try:
        corrected = received_at - (parse_timestamp(sent) - parse_timestamp(when))
    except (ValueError, OverflowError):
        return message  # the message's own validation names a bad timestamp
    return {**message, "originalTimestamp": when, "timestamp": corrected.isoformat()}
