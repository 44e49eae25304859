"""Lead operations: upsert by email, account linking, merging with aliases, stage changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.audit.models import AuditEntry
from leadgate.audit.service import record
from leadgate.db.engine import Database
from leadgate.events.models import Event
from leadgate.events.service import insert_event_rows
from leadgate.exceptions import LeadgateError, NotFoundError, TransitionError
from leadgate.leads.models import Lead, LeadAlias, Qualification, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import (
    change_stage,
    find_lead,
    get_lead,
    list_leads,
    merge_leads,
    stage_history,
    upsert_lead,
)
from leadgate.lifecycle import Stage
from leadgate.scorecards.models import StoredScorecard
from leadgate.tasks.models import Task
from leadgate.tasks.service import create_task

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _upsert(session: Session, *, at: datetime = T0, **fields: Any) -> tuple[Lead, bool]:
    return upsert_lead(session, data=LeadCreate(**fields), now=at, actor="tester")


def _count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _event(session: Session, event_id: str, lead_id: str) -> None:
    insert_event_rows(
        session,
        rows=[(event_id, lead_id, "email.opened", T0, None, None, {})],
        received_at=T0,
    )


class TestLeadCreateSchema:
    """LeadCreate validates and normalises input before anything touches the database."""

    def test_email_is_required_and_checked(self) -> None:
        """A missing, blank or malformed email is a validation error."""
        for value in (None, "", "   ", "no-at-sign", "a@b", "two@@x.cz"):
            with pytest.raises(ValidationError):
                LeadCreate(email=value)  # type: ignore[arg-type]

    def test_values_are_trimmed_and_blanks_are_none(self) -> None:
        """Whitespace is stripped; empty text means no value."""
        data = LeadCreate(email="  Jana@Acme.cz ", first_name=" Jana ", title="  ", id="")
        assert (data.email, data.first_name, data.title, data.id) == (
            "Jana@Acme.cz",
            "Jana",
            None,
            None,
        )

    @pytest.mark.parametrize(
        ("raw", "expected"), [("yes", True), ("Y", True), ("1", True), ("no", False), ("0", False)]
    )
    def test_consent_flags_accept_common_spellings(self, raw: str, expected: bool) -> None:
        """yes/no, y/n, 1/0, true/false (any case) are read as booleans."""
        assert LeadCreate(email="a@acme.cz", do_not_email=raw).do_not_email is expected  # type: ignore[arg-type]

    def test_unknown_field_and_too_long_value_are_refused(self) -> None:
        """Unknown fields are errors (not silently dropped); text has column-size limits."""
        with pytest.raises(ValidationError, match="shoe_size"):
            LeadCreate(email="a@acme.cz", shoe_size="44")  # type: ignore[call-arg]
        with pytest.raises(ValidationError, match="at most 200 characters"):
            LeadCreate(email="a@acme.cz", first_name="x" * 201)

    def test_account_domain_is_normalised(self) -> None:
        """account_domain accepts URLs and mixed case and keeps the bare domain."""
        data = LeadCreate(email="a@acme.cz", account_domain="https://www.Acme.CZ/o-nas")
        assert data.account_domain == "acme.cz"


class TestUpsertLead:
    """upsert_lead creates a lead once per email (any case) and updates it afterwards."""

    def test_new_lead_starts_in_lead_stage_with_history(self, db: Database) -> None:
        """A new lead gets a generated id, stage ``lead`` and a "created" history entry."""
        with db.session() as session:
            lead, created = _upsert(session, email="Jana@Acme.cz", first_name="Jana")
            assert created is True
            assert lead.id.startswith("ld_")
            assert (lead.email, lead.email_key, lead.stage) == (
                "Jana@Acme.cz",
                "jana@acme.cz",
                "lead",
            )
            assert (lead.created_at, lead.stage_changed_at) == (T0, T0)
            (entry,) = stage_history(session, lead_id=lead.id)
            assert (entry.from_stage, entry.to_stage, entry.actor, entry.reason) == (
                None,
                "lead",
                "tester",
                "created",
            )

    def test_given_id_and_initial_stage_are_used(self, db: Database) -> None:
        """An imported id becomes the lead id; a stage on creation is the first stage."""
        with db.session() as session:
            lead, _ = _upsert(session, id="crm-17", email="a@acme.cz", stage="mql")
            assert (lead.id, lead.stage) == ("crm-17", "mql")
            assert [e.to_stage for e in stage_history(session, lead_id="crm-17")] == ["mql"]

    def test_same_email_any_case_updates_the_same_lead(self, db: Database) -> None:
        """A second spelling of the address updates the lead (and its spelling), not a new one."""
        later = T0 + timedelta(days=1)
        with db.session() as session:
            first, _ = _upsert(session, email="jana@acme.cz", first_name="Jana", title="CTO")
            second, created = _upsert(session, at=later, email="JANA@ACME.CZ", title="CEO")
            assert created is False
            assert second is first
            assert (first.email, first.first_name, first.title) == ("JANA@ACME.CZ", "Jana", "CEO")
            assert (first.created_at, first.updated_at) == (T0, later)
            assert _count(session, Lead) == 1

    def test_absent_values_keep_what_is_stored_and_attributes_merge(self, db: Database) -> None:
        """None leaves a field alone; attributes merge key by key; flags can be cleared."""
        with db.session() as session:
            lead, _ = _upsert(
                session,
                email="a@acme.cz",
                country="CZ",
                do_not_email=True,
                attributes={"size": "50", "plan": "free"},
            )
            _upsert(session, email="a@acme.cz", do_not_email=False, attributes={"plan": "pro"})
            assert lead.country == "CZ"
            assert lead.do_not_email is False
            assert lead.attributes == {"size": "50", "plan": "pro"}

    def test_known_id_with_new_email_changes_email_and_keeps_the_old_one_as_alias(
        self, db: Database
    ) -> None:
        """A lead found by id takes the new email; the old email still finds it."""
        with db.session() as session:
            lead, _ = _upsert(session, id="L1", email="old@acme.cz")
            same, created = _upsert(session, id="L1", email="New@Acme.cz")
            assert created is False
            assert same is lead
            assert (lead.email, lead.email_key) == ("New@Acme.cz", "new@acme.cz")
            assert find_lead(session, ref="OLD@acme.cz") is lead
            assert session.get(LeadAlias, "old@acme.cz") is not None

    def test_unicode_values_round_trip(self, db: Database) -> None:
        """Czech names and emoji are stored and read back exactly."""
        name = "Řehoř Žďárský 🚀"
        with db.session() as session:
            _upsert(session, id="U1", email="řehoř@acme.cz", last_name=name)
        with db.session() as session:
            stored = session.get(Lead, "U1")
            assert stored is not None
            assert (stored.email, stored.last_name) == ("řehoř@acme.cz", name)


class TestAccountLinking:
    """A lead joins an account by account_id, account_domain or its email domain."""

    def test_email_domain_creates_then_joins_one_account(self, db: Database) -> None:
        """The first acme.cz lead creates the account (named after the domain); the next joins."""
        with db.session() as session:
            jana, _ = _upsert(session, email="jana@ACME.cz")
            petr, _ = _upsert(session, email="petr@acme.cz")
            account = session.scalars(select(Account)).one()
            assert (account.domain, account.name) == ("acme.cz", "acme.cz")
            assert jana.account_id == petr.account_id == account.id

    @pytest.mark.parametrize("email", ["eva@gmail.com", "eva@Seznam.cz", "eva@outlook.com"])
    def test_free_mail_never_creates_or_joins_an_account(self, db: Database, email: str) -> None:
        """gmail.com, seznam.cz, outlook.com ... leads stay without an account."""
        with db.session() as session:
            lead, _ = _upsert(session, email=email)
            _upsert(session, email="other." + email.lower())
            assert lead.account_id is None
            assert _count(session, Account) == 0

    def test_account_domain_links_a_free_mail_lead(self, db: Database) -> None:
        """An explicit account_domain wins over the (free-mail) email domain."""
        with db.session() as session:
            lead, _ = _upsert(session, email="boss@gmail.com", account_domain="www.acme.cz")
            account = session.get(Account, lead.account_id)
            assert account is not None
            assert account.domain == "acme.cz"

    def test_free_mail_account_domain_is_an_error(self, db: Database) -> None:
        """Naming a free-mail domain as the account is refused, and nothing is created."""
        with db.session() as session, pytest.raises(LeadgateError, match="free-mail domain"):
            _upsert(session, email="boss@acme.cz", account_domain="gmail.com")
        with db.session() as session:
            assert _count(session, Account) == 0

    def test_account_id_must_exist(self, db: Database) -> None:
        """account_id links to an existing account; an unknown one is NotFoundError."""
        with db.session() as session:
            session.add(
                Account(id="A1", domain="acme.cz", attributes={}, created_at=T0, updated_at=T0)
            )
            lead, _ = _upsert(session, email="x@gmail.com", account_id="A1")
            assert lead.account_id == "A1"
            with pytest.raises(NotFoundError, match="unknown account 'NOPE'"):
                _upsert(session, email="y@gmail.com", account_id="NOPE")

    def test_existing_link_is_kept_on_update(self, db: Database) -> None:
        """An update without account fields does not move the lead to another account."""
        with db.session() as session:
            lead, _ = _upsert(session, email="x@acme.cz", account_domain="beta.io")
            beta = lead.account_id
            _upsert(session, email="x@acme.cz", title="CTO")
            assert lead.account_id == beta
            assert _count(session, Account) == 1


class TestFindLead:
    """find_lead resolves ids, emails in any case and aliases of merged leads."""

    def test_by_id_email_and_alias(self, db: Database) -> None:
        """Id, trimmed email in any case, and aliases all resolve; unknown refs give None."""
        with db.session() as session:
            lead, _ = _upsert(session, id="L1", email="jana@acme.cz")
            session.add(LeadAlias(alias="crm-1", lead_id="L1", created_at=T0))
            session.add(LeadAlias(alias="jana@old.cz", lead_id="L1", created_at=T0))
            session.flush()
            for ref in ("L1", " L1 ", "jana@acme.cz", "JANA@Acme.CZ", "crm-1", "Jana@OLD.cz"):
                assert find_lead(session, ref=ref) is lead, ref
            assert find_lead(session, ref="l1") is None
            assert find_lead(session, ref="nobody@acme.cz") is None

    def test_get_lead_raises_for_unknown(self, db: Database) -> None:
        """get_lead is find_lead that raises NotFoundError naming the reference."""
        with db.session() as session, pytest.raises(NotFoundError, match="'ghost'"):
            get_lead(session, ref="ghost")


class TestMergeLeads:
    """When an id and an email name two leads they are one person: merged, nothing lost."""

    def _two_leads(self, session: Session) -> tuple[Lead, Lead]:
        older, _ = _upsert(session, id="A", email="ann@acme.cz", first_name="Ann")
        newer, _ = _upsert(
            session,
            at=T0 + timedelta(days=1),
            id="B",
            email="bea@beta.io",
            first_name="Bea",
            title="CTO",
            do_not_call=True,
            attributes={"src": "webinar", "size": "9"},
        )
        older.attributes = {"size": "50"}
        change_stage(session, lead=newer, to=Stage.MQL, actor="model", at=T0 + timedelta(days=2))
        _event(session, "ea", "A")
        _event(session, "eb1", "B")
        _event(session, "eb2", "B")
        return older, newer

    def test_the_work_of_sales_moves_with_the_merge(self, db: Database) -> None:
        """Tasks, a qualification's BANT, audit entries and the owner of the dropped lead
        belong to the kept one afterwards (the dropped row's FKs would cascade them)."""
        with db.session() as session:
            older, newer = self._two_leads(session)
            newer.owner = "rita@acme.cz"
            create_task(
                session,
                lead=newer,
                owner="rita@acme.cz",
                title="call",
                due_in=timedelta(hours=1),
                now=T0,
            )
            session.add(Qualification(lead_id="B", budget="10k", actor="user:rita@acme.cz", at=T0))
            record(session, actor="user:rita@acme.cz", action="lead.edited", at=T0, lead_id="B")
            session.flush()
            merge_leads(session, keep=older, drop=newer, actor="test", now=T0)
            session.flush()
            assert older.owner == "rita@acme.cz"
            for table in (Task, Qualification, AuditEntry):
                leads = set(session.scalars(select(table.lead_id)))
                assert leads == {"A"}, table.__tablename__

    def test_row_naming_two_leads_merges_into_the_older(self, db: Database) -> None:
        """The older lead survives; events and history move to it; the dropped id and
        email become aliases; the deeper stage, filled gaps and either opt-out are kept."""
        merged_at = T0 + timedelta(days=3)
        with db.session() as session:
            older, _ = self._two_leads(session)
            lead, created = _upsert(session, at=merged_at, id="B", email="ann@acme.cz")
            assert created is False
            assert lead is older
            assert session.get(Lead, "B") is None
            assert (lead.first_name, lead.title, lead.do_not_call) == ("Ann", "CTO", True)
            assert lead.attributes == {"src": "webinar", "size": "50"}
            assert (lead.stage, lead.stage_changed_at) == ("mql", T0 + timedelta(days=2))
            assert lead.email == "ann@acme.cz"
            for ref in ("A", "B", "ann@acme.cz", "BEA@beta.io"):
                assert find_lead(session, ref=ref) is lead, ref
            events = session.scalars(select(Event.event_id).where(Event.lead_id == "A")).all()
            assert sorted(events) == ["ea", "eb1", "eb2"]
            assert session.scalar(select(Lead.events_stored).where(Lead.id == "A")) == 3
            history = stage_history(session, lead_id="A")
            assert [(h.from_stage, h.to_stage) for h in history] == [
                (None, "lead"),
                (None, "lead"),
                ("lead", "mql"),
                ("lead", "mql"),
            ]
            assert history[-1].reason == "merged lead B (bea@beta.io) into A"
            assert history[-1].at == merged_at
            assert _count(session, Lead) == 1

    def test_id_found_through_an_alias_still_merges(self, db: Database) -> None:
        """An id that is already an alias resolves to its lead before merging."""
        with db.session() as session:
            self._two_leads(session)
            session.add(LeadAlias(alias="crm-b", lead_id="B", created_at=T0))
            session.flush()
            lead, _ = _upsert(session, id="crm-b", email="ann@acme.cz")
            assert lead.id == "A"
            assert find_lead(session, ref="crm-b") is lead

    def test_aliases_follow_repeated_merges(self, db: Database) -> None:
        """Merging the survivor again carries every earlier alias to the new survivor."""
        with db.session() as session:
            older, newer = self._two_leads(session)
            merge_leads(session, keep=older, drop=newer, actor="t", now=T0)
            third, _ = _upsert(session, id="C", email="cyril@gamma.cz")
            merge_leads(session, keep=third, drop=older, actor="t", now=T0)
            for ref in ("A", "B", "ann@acme.cz", "bea@beta.io", "C"):
                assert find_lead(session, ref=ref) is third, ref
            assert _count(session, Event) == 3
            assert set(session.scalars(select(Event.lead_id)).all()) == {"C"}

    def test_merging_a_lead_into_itself_changes_nothing(self, db: Database) -> None:
        """keep == drop is a no-op."""
        with db.session() as session:
            lead, _ = _upsert(session, id="A", email="a@acme.cz")
            assert merge_leads(session, keep=lead, drop=lead, actor="t", now=T0) is lead
            assert len(stage_history(session, lead_id="A")) == 1


class TestChangeStage:
    """change_stage follows the transition table and records who, when and why."""

    def test_allowed_move_updates_the_lead_and_the_history(self, db: Database) -> None:
        """lead -> mql is allowed: the stage, its time and a history row are written."""
        at = T0 + timedelta(hours=5)
        with db.session() as session:
            lead, _ = _upsert(session, id="L1", email="a@acme.cz")
            change = change_stage(
                session, lead=lead, to="mql", actor="model:b2b@v3", at=at, reason="score 72"
            )
            assert (change.from_stage, change.to_stage, change.actor, change.reason) == (
                "lead",
                "mql",
                "model:b2b@v3",
                "score 72",
            )
            assert (lead.stage, lead.stage_changed_at, lead.updated_at) == ("mql", at, at)
        with db.session() as session:
            history = stage_history(session, lead_id="L1")
            assert [(h.from_stage, h.to_stage, h.at) for h in history] == [
                (None, "lead", T0),
                ("lead", "mql", at),
            ]

    def test_disallowed_move_raises_and_changes_nothing(self, db: Database) -> None:
        """lead -> customer is not in the table: TransitionError lists the allowed targets."""
        with db.session() as session:
            lead, _ = _upsert(session, id="L1", email="a@acme.cz")
            with pytest.raises(
                TransitionError, match="cannot move a lead from lead to customer"
            ) as info:
                change_stage(session, lead=lead, to=Stage.CUSTOMER, actor="t", at=T0)
            assert info.value.allowed == ("mql", "nurture", "disqualified")
            assert lead.stage == "lead"
            assert len(stage_history(session, lead_id="L1")) == 1

    def test_unknown_stage_and_final_stage(self, db: Database) -> None:
        """An unknown stage name is refused; a customer cannot move anywhere."""
        with db.session() as session:
            lead, _ = _upsert(session, id="L1", email="a@acme.cz", stage="opportunity")
            with pytest.raises(TransitionError, match="unknown stage 'won'"):
                change_stage(session, lead=lead, to="won", actor="t", at=T0)
            change_stage(session, lead=lead, to="customer", actor="t", at=T0)
            with pytest.raises(TransitionError, match="allowed: none"):
                change_stage(session, lead=lead, to="nurture", actor="t", at=T0)

    def test_history_is_ordered_by_time(self, db: Database) -> None:
        """stage_history is oldest first even when written out of order."""
        with db.session() as session:
            lead, _ = _upsert(session, id="L1", email="a@acme.cz", at=T0)
            change_stage(session, lead=lead, to="nurture", actor="t", at=T0 + timedelta(days=2))
            session.add(
                StageChange(
                    lead_id="L1",
                    from_stage="lead",
                    to_stage="lead",
                    at=T0 + timedelta(days=1),
                    actor="backfill",
                )
            )
            session.flush()
            actors = [h.actor for h in stage_history(session, lead_id="L1")]
            assert actors == ["tester", "backfill", "t"]

    def test_list_leads_filters_by_stage_newest_change_first(self, db: Database) -> None:
        """list_leads(stage=...) returns that stage only, most recent stage change first."""
        with db.session() as session:
            for number in range(3):
                lead, _ = _upsert(session, id=f"L{number}", email=f"u{number}@acme.cz")
                change_stage(
                    session, lead=lead, to="mql", actor="t", at=T0 + timedelta(hours=number)
                )
            _upsert(session, id="other", email="o@acme.cz")
            page = list_leads(session, stage=Stage.MQL)
            assert [row.lead.id for row in page.rows] == ["L2", "L1", "L0"]
            assert page.total == 3
            everyone = list_leads(session, limit=None)
            assert len(everyone.rows) == everyone.total == 4
            first = list_leads(session, limit=1, offset=1)
            assert [row.lead.id for row in first.rows] == ["L1"] and first.total == 4

    def test_list_leads_filters_by_score_of_a_known_group_only(self, db: Database) -> None:
        with db.session() as session:
            _upsert(session, id="L0", email="u0@acme.cz")
            with pytest.raises(LeadgateError, match="group: choose one of fit, engagement"):
                list_leads(session, min_score=10, group="fun", groups=("fit", "engagement"))
            assert list_leads(session, min_score=10, groups=("fit",)).total == 0
            for number, fit in enumerate((5.0, 25.0, 40.0), start=1):
                _upsert(session, id=f"S{number}", email=f"s{number}@acme.cz")
                session.add(
                    StoredScorecard(
                        lead_id=f"S{number}",
                        model_name="m",
                        model_version=1,
                        as_of=T0,
                        scores={"fit": fit, "engagement": 100 - fit},
                        grade=None,
                        mql=False,
                        breakdown={},
                        computed_at=T0,
                    )
                )
            session.flush()
            page = list_leads(session, min_score=20, max_score=40, groups=("fit", "engagement"))
            assert sorted(row.lead.id for row in page.rows) == ["S2", "S3"]
            other = list_leads(
                session, min_score=80, group="engagement", groups=("fit", "engagement")
            )
            assert [row.lead.id for row in other.rows] == ["S1"]
