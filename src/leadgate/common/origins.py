"""Web origins (``scheme://host[:port]``) as browsers send them in ``Origin``."""

from __future__ import annotations

import re

from leadgate.exceptions import LeadgateError

__all__ = ["normalize_origin"]

_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?/?$")


def normalize_origin(text: str) -> str:
    """A web origin as browsers send it (``scheme://host[:port]``, lower case, no
    path, no default port), or a LeadgateError naming what is wrong."""
    found = _ORIGIN.match(text.strip().lower())
    if found is None:
        raise LeadgateError(
            f"origin {text!r}: expected scheme://host[:port] such as https://www.example.com "
            "(no path, no wildcard)"
        )
    scheme, host, port = found.groups()
    if port is not None and not 0 < int(port) < 65536:
        raise LeadgateError(f"origin {text!r}: port out of range")
    if port in ({"http": "80", "https": "443"}[scheme], None):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
