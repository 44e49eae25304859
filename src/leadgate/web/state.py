"""What the web app keeps between requests (per ``serve`` process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fastapi import Request

from leadgate.web.auth import LoginLimiter

__all__ = ["ChoicesCache", "WebState", "web_state"]


class ChoicesCache:
    """The queue's filter values (channels, campaigns, tiers), read at most every
    ``ttl`` seconds: every page load would otherwise read every waiting MQL to list
    them, and a new channel can wait a minute to be offered."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._value: dict[str, Sequence[str]] | None = None
        self._read_at = 0.0
        self._guard = threading.Lock()

    def get(self, read: Callable[[], dict[str, Sequence[str]]]) -> dict[str, Sequence[str]]:
        with self._guard:
            if self._value is not None and time.monotonic() - self._read_at < self.ttl:
                return self._value
        value = read()
        with self._guard:
            self._value, self._read_at = value, time.monotonic()
        return value


@dataclass
class WebState:
    """The login limiter and the queue's cached filter values."""

    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    choices: ChoicesCache = field(default_factory=ChoicesCache)


def web_state(request: Request) -> WebState:
    found: WebState = request.app.state.web
    return found
