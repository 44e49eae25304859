"""Account operations: upsert by id or domain, lookups, and accounts created from email domains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import account_for_domain, get_account, upsert_account
from leadgate.db.engine import Database
from leadgate.exceptions import LeadgateError, NotFoundError

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _upsert(session: Session, *, at: datetime = T0, **fields: Any) -> tuple[Account, bool]:
    return upsert_account(session, data=AccountCreate(**fields), now=at)


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


class TestAccountCreateSchema:
    """AccountCreate needs an id or a domain and normalises the domain."""

    @pytest.mark.parametrize(
        "raw",
        ["acme.cz", "ACME.CZ", "www.acme.cz", "https://www.Acme.cz/o-nas?x=1", "jana@acme.cz"],
    )
    def test_domain_is_normalised(self, raw: str) -> None:
        """URLs, www., case and email addresses all reduce to the bare domain."""
        assert AccountCreate(domain=raw).domain == "acme.cz"

    def test_id_or_domain_is_required(self) -> None:
        """An account with neither id nor domain cannot be identified."""
        with pytest.raises(ValidationError, match="needs an id or a domain"):
            AccountCreate(name="Acme")

    @pytest.mark.parametrize("domain", ["gmail.com", "Seznam.cz", "https://outlook.com"])
    def test_free_mail_domain_is_refused(self, domain: str) -> None:
        """A free-mail domain is never an account."""
        with pytest.raises(ValidationError, match="free-mail domain"):
            AccountCreate(domain=domain)

    @pytest.mark.parametrize(
        "fields",
        [
            {"domain": "not a domain"},
            {"id": "A1", "employees": -1},
            {"id": "A1", "employees": 2**31},
            {"id": "A1", "annual_revenue": float("inf")},
            {"id": "A1", "name": "x" * 501},
            {"id": "x" * 65},
        ],
    )
    def test_out_of_range_values_are_refused(self, fields: dict[str, Any]) -> None:
        """Bad domains, negative or database-overflowing numbers and over-long text fail."""
        with pytest.raises(ValidationError):
            AccountCreate(**fields)

    def test_blank_text_is_no_value(self) -> None:
        """Empty cells (as in CSV) mean "not given"."""
        data = AccountCreate(id="A1", domain="  ", name="", employees="")  # type: ignore[arg-type]
        assert (data.domain, data.name, data.employees) == (None, None, None)


class TestUpsertAccount:
    """upsert_account creates, or updates the account with the same id, else domain."""

    def test_create_by_domain_names_it_after_the_domain(self, db: Database) -> None:
        """Without a name the domain is the name; the id is generated."""
        with db.session() as session:
            account, created = _upsert(session, domain="acme.cz")
            assert created is True
            assert account.id.startswith("ac_")
            assert (account.domain, account.name, account.created_at) == ("acme.cz", "acme.cz", T0)

    def test_update_by_id_keeps_absent_values(self, db: Database) -> None:
        """Given values overwrite, absent ones stay, attributes merge key by key."""
        later = T0 + timedelta(days=1)
        with db.session() as session:
            _upsert(
                session,
                id="A1",
                domain="acme.cz",
                name="Acme",
                employees=120,
                attributes={"segment": "SMB", "crm": "x"},
            )
            account, created = _upsert(
                session, at=later, id="A1", tier="gold", attributes={"crm": "y"}
            )
            assert created is False
            assert (account.domain, account.name, account.employees, account.tier) == (
                "acme.cz",
                "Acme",
                120,
                "gold",
            )
            assert account.attributes == {"segment": "SMB", "crm": "y"}
            assert (account.created_at, account.updated_at) == (T0, later)

    def test_update_by_domain_when_id_is_absent(self, db: Database) -> None:
        """A row without id updates the account owning its domain."""
        with db.session() as session:
            first, _ = _upsert(session, id="A1", domain="acme.cz")
            second, created = _upsert(session, domain="WWW.ACME.CZ", industry="Software")
            assert created is False
            assert second is first
            assert first.industry == "Software"
            assert _count(session) == 1

    def test_id_can_take_a_new_domain(self, db: Database) -> None:
        """An account found by id moves to a domain nobody else owns."""
        with db.session() as session:
            account, _ = _upsert(session, id="A1", domain="acme.cz")
            _upsert(session, id="A1", domain="acme.com")
            assert account.domain == "acme.com"

    def test_domain_owned_by_another_account_is_a_clash(self, db: Database) -> None:
        """Two accounts never share a domain: the update is refused with the owner's id."""
        with db.session() as session:
            _upsert(session, id="A1", domain="acme.cz")
            _upsert(session, id="A2", domain="beta.io")
            with pytest.raises(
                LeadgateError, match=r"domain acme\.cz already belongs to account A1"
            ):
                _upsert(session, id="A2", domain="acme.cz")

    def test_unicode_values_round_trip(self, db: Database) -> None:
        """Czech names and emoji in fields and attributes are stored exactly."""
        with db.session() as session:
            _upsert(session, id="A1", name="Škoda Žďár a.s. 🚗", attributes={"poznámka": "ěščř"})
        with db.session() as session:
            account = session.get(Account, "A1")
            assert account is not None
            assert (account.name, account.attributes) == (
                "Škoda Žďár a.s. 🚗",
                {"poznámka": "ěščř"},
            )


class TestGetAccount:
    """get_account finds an account by id or by domain (in any spelling)."""

    def test_by_id_and_domain(self, db: Database) -> None:
        """The id, the domain and a URL of the domain all find it."""
        with db.session() as session:
            account, _ = _upsert(session, id="A1", domain="acme.cz")
            for ref in ("A1", "acme.cz", "https://www.ACME.cz/"):
                assert get_account(session, ref=ref) is account

    @pytest.mark.parametrize("ref", ["A9", "beta.io", "not a domain"])
    def test_unknown_is_not_found(self, db: Database, ref: str) -> None:
        """Anything that names no account is NotFoundError."""
        with db.session() as session, pytest.raises(NotFoundError):
            get_account(session, ref=ref)


class TestAccountForDomain:
    """account_for_domain: the account of an email domain, created on first sight."""

    def test_created_once_then_found(self, db: Database) -> None:
        """The first call creates the account; the next returns the same one."""
        with db.session() as session:
            first = account_for_domain(session, domain="acme.cz", now=T0)
            second = account_for_domain(session, domain="acme.cz", now=T0)
            assert first is not None
            assert second is first
            assert _count(session) == 1

    @pytest.mark.parametrize("domain", [None, "gmail.com", "GMAIL.COM", "centrum.cz"])
    def test_free_mail_or_none_gives_no_account(self, db: Database, domain: str | None) -> None:
        """Free-mail domains (any case) and no domain never create an account."""
        with db.session() as session:
            assert account_for_domain(session, domain=domain, now=T0) is None
            assert _count(session) == 0

    def test_create_false_only_looks(self, db: Database) -> None:
        """With create=False an unknown domain gives None and creates nothing."""
        with db.session() as session:
            assert account_for_domain(session, domain="acme.cz", now=T0, create=False) is None
            assert _count(session) == 0
