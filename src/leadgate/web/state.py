"""What the web app keeps between requests (per ``serve`` process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from leadgate.web.auth import LoginLimiter

__all__ = ["WebState", "web_state"]


@dataclass
class WebState:
    """The login limiter and the live pages' subscriptions."""

    limiter: LoginLimiter = field(default_factory=LoginLimiter)


def web_state(request: Request) -> WebState:
    found: WebState = request.app.state.web
    return found
