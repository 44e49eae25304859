"""Account operations. Keyword-only, session first; the caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.schemas import AccountCreate
from leadgate.common.ids import new_id
from leadgate.common.text import normalize_domain
from leadgate.exceptions import LeadgateError, NotFoundError
from leadgate.reference import is_free_mail, is_reserved_domain

__all__ = ["account_for_domain", "account_summary", "get_account", "upsert_account"]

_UPDATABLE = ("name", "industry", "employees", "annual_revenue", "country", "tier", "owner")


def get_account(session: Session, *, ref: str) -> Account:
    """An account by id or domain."""
    account = session.get(Account, ref)
    if account is None:
        try:
            domain = normalize_domain(ref)
        except ValueError:
            domain = None
        if domain is not None:
            account = session.scalar(select(Account).where(Account.domain == domain))
    if account is None:
        raise NotFoundError(f"no account {ref!r}")
    return account


def upsert_account(session: Session, *, data: AccountCreate, now: datetime) -> tuple[Account, bool]:
    """Create the account or update the one with the same id (else the same domain).

    Returns the account and whether it was created. Fields absent from ``data``
    keep their stored values; custom attributes are merged key by key.
    """
    account = session.get(Account, data.id) if data.id is not None else None
    if account is None and data.domain is not None:
        account = session.scalar(select(Account).where(Account.domain == data.domain))
    if account is None:
        account = Account(
            id=data.id or new_id("ac"),
            domain=data.domain,
            attributes=dict(data.attributes),
            created_at=now,
            updated_at=now,
        )
        for name in _UPDATABLE:
            setattr(account, name, getattr(data, name))
        if account.name is None:
            account.name = data.domain
        session.add(account)
        session.flush()
        return account, True
    if data.domain is not None and data.domain != account.domain:
        clash = session.scalar(select(Account.id).where(Account.domain == data.domain))
        if clash is not None and clash != account.id:
            raise LeadgateError(f"domain {data.domain} already belongs to account {clash}")
        account.domain = data.domain
    for name in _UPDATABLE:
        value = getattr(data, name)
        if value is not None:
            setattr(account, name, value)
    if data.attributes:
        account.attributes = {**account.attributes, **data.attributes}
    account.updated_at = now
    session.flush()
    return account, False


def account_for_domain(
    session: Session, *, domain: str | None, now: datetime, create: bool = True
) -> Account | None:
    """The account owning ``domain``, created on first sight; never for free-mail or
    reserved (``.invalid``, ``example.com``) domains."""
    if domain is None or is_free_mail(domain) or is_reserved_domain(domain):
        return None
    account = session.scalar(select(Account).where(Account.domain == domain))
    if account is None and create:
        account, _ = upsert_account(session, data=AccountCreate(domain=domain), now=now)
    return account


def account_summary(account: Account | None) -> dict[str, Any] | None:
    """The account as a lead's pages and commands show it (None for no account)."""
    if account is None:
        return None
    return {
        "id": account.id,
        "name": account.name,
        "domain": account.domain,
        "industry": account.industry,
        "employees": account.employees,
        "country": account.country,
        "tier": account.tier,
    }
