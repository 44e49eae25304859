"""Reference data shipped with leadgate (read once, cached)."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["free_mail_domains", "is_free_mail", "is_reserved_domain"]


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


#: Names reserved for tests and documentation (RFC 2606, RFC 6761): no company owns them.
_RESERVED_SUFFIXES = (".invalid", ".example", ".test", ".localhost")
_RESERVED_NAMES = frozenset({"example.com", "example.net", "example.org"})


def is_reserved_domain(domain: str | None) -> bool:
    """True for a reserved domain (``x.invalid``, ``example.com``, ...): never an account.

    Imports of data without e-mail addresses make one up in such a domain; all
    those leads must not end up in one made-up company.
    """
    if domain is None:
        return False
    name = domain.strip().lower().rstrip(".")
    return (
        name in _RESERVED_NAMES
        or name.endswith(_RESERVED_SUFFIXES)
        or name in {s.lstrip(".") for s in _RESERVED_SUFFIXES}
    )
