"""Reference data shipped with leadgate (read once, cached)."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["free_mail_domains", "is_free_mail"]


@cache
def free_mail_domains() -> frozenset[str]:
    """The shipped list of free-mail domains, lower case."""
    text = resources.files(__package__).joinpath("free_mail_domains.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def is_free_mail(domain: str | None) -> bool:
    """True when ``domain`` is a consumer mailbox provider (never an account)."""
    return domain is not None and domain.strip().lower() in free_mail_domains()
