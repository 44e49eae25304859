"""Owner assignment, playbook validation, the action registry, and once-per-entry."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from leadgate.accounts.schemas import AccountCreate
from leadgate.accounts.service import upsert_account
from leadgate.actions.models import ActionRun
from leadgate.actions.playbooks import default_playbooks, load_playbooks
from leadgate.actions.registry import register, registry
from leadgate.actions.runner import handoff
from leadgate.db.engine import Database
from leadgate.exceptions import ModelError
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import change_stage, upsert_lead
from leadgate.reps.service import RepIn, choose_owner, upsert_rep
from leadgate.tasks.models import Task

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _lead(db: Database, email: str, **fields: object) -> str:
    with db.session() as session:
        lead, _ = upsert_lead(session, data=LeadCreate(email=email, **fields), now=NOW)
        return lead.id


def _rep(db: Database, email: str, **fields: object) -> None:
    with db.session() as session:
        name = email.split("@", maxsplit=1)[0]
        upsert_rep(session, data=RepIn(email=email, name=name, **fields), now=NOW)


class TestOwnerAssignment:
    def _owner(self, db: Database, lead_id: str) -> tuple[str, str]:
        with db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            return choose_owner(session, lead=lead, fallback="queue:unassigned", now=NOW)

    def test_the_account_owner_comes_first(self, db: Database) -> None:
        _rep(db, "eva@s.example", territories=[{"country": ["CZ"]}])
        with db.session() as session:
            upsert_account(
                session, data=AccountCreate(domain="acme.cz", owner="ann@s.example"), now=NOW
            )
        lead_id = _lead(db, "x@acme.cz", country="CZ")
        assert self._owner(db, lead_id) == ("ann@s.example", "account owner")

    def test_territory_by_country_industry_size_and_tier(self, db: Database) -> None:
        _rep(db, "cz@s.example", territories=[{"country": ["CZ"], "size_band": ["50-249"]}])
        _rep(db, "mfg@s.example", territories=[{"industry": ["manufacturing"], "tier": ["1"]}])
        _rep(db, "other@s.example")
        with db.session() as session:
            upsert_account(
                session,
                data=AccountCreate(
                    domain="big.de", industry="Manufacturing", tier="1", employees=5
                ),
                now=NOW,
            )
            upsert_account(session, data=AccountCreate(domain="mid.cz", employees=120), now=NOW)
        assert self._owner(db, _lead(db, "a@big.de"))[0] == "mfg@s.example"
        assert self._owner(db, _lead(db, "b@mid.cz", country="cz")) == ("cz@s.example", "territory")

    def test_weighted_round_robin_skips_unavailable_reps(self, db: Database) -> None:
        _rep(db, "heavy@s.example", weight=3)
        _rep(db, "light@s.example", weight=1)
        _rep(db, "away@s.example", weight=5, available=False)
        counts: Counter[str] = Counter()
        for index in range(40):
            owner, how = self._owner(db, _lead(db, f"p{index}@gmail.com"))
            assert how == "round robin"
            counts[owner] += 1
        assert counts == {"heavy@s.example": 30, "light@s.example": 10}

    def test_nobody_available_goes_to_the_fallback_queue(self, db: Database) -> None:
        _rep(db, "away@s.example", available=False)
        assert self._owner(db, _lead(db, "q@gmail.com")) == ("queue:unassigned", "fallback queue")


class TestPlaybooks:
    @pytest.mark.parametrize(
        ("text", "path", "message"),
        [
            (
                "playbooks: [{id: a, on: mql, actions: [owner.asign]}]",
                "playbooks[0].actions[0]",
                "unknown action 'owner.asign'",
            ),
            (
                "playbooks: [{id: a, on: won, actions: [owner.assign]}]",
                "playbooks[0].on",
                "on must be a stage",
            ),
            (
                "playbooks: [{id: a, on: mql, actions: [{task.create: {due_in_minutes: 0}}]}]",
                'playbooks[0].actions[0]["task.create"].due_in_minutes',
                "greater than or equal to 1",
            ),
            (
                "playbooks: [{id: a, on: mql, actions: [{webhook.send: {event: lead.won}}]}]",
                'playbooks[0].actions[0]["webhook.send"].event',
                "unknown event",
            ),
            (
                "playbooks: [{id: a, on: mql, when: {account.tierr: 1}, actions: [owner.assign]}]",
                "playbooks[0].when",
                "unknown",
            ),
        ],
    )
    def test_errors_name_the_path(self, text: str, path: str, message: str) -> None:
        with pytest.raises(ModelError) as error:
            load_playbooks("version: 1\nname: t\n" + text + "\n", file="p.yaml")
        assert error.value.path.startswith(path.split(".", maxsplit=1)[0])
        assert path in error.value.render() or error.value.path == path
        assert message in error.value.message

    def test_the_default_playbook(self) -> None:
        books = default_playbooks()
        (mql, vip) = books.for_stage("mql")
        assert [a.key for a in mql.actions] == ["owner.assign", "task.create", "webhook.send"]
        assert [a.key for a in vip.actions] == ["sequence.enroll"]


class TestRegistry:
    def test_a_duplicate_key_is_an_error(self) -> None:
        class Empty(BaseModel):
            pass

        assert "owner.assign" in registry()
        with pytest.raises(ValueError, match="already registered"):
            register("owner.assign", Empty, "again")(lambda ctx, config: {})
        with pytest.raises(ValueError, match="namespaced"):
            register("assign", Empty, "no namespace")

    def test_each_action_runs_once_per_stage_entry(self, db: Database) -> None:
        _rep(db, "eva@s.example")
        lead_id = _lead(db, "r@gmail.com")
        with db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            change = change_stage(session, lead=lead, to="mql", actor="t", at=NOW)
            for _ in range(2):
                handoff(
                    session,
                    changes=[change],
                    playbooks=default_playbooks(),
                    now=NOW,
                    fallback_owner="queue:x",
                )
            runs = session.scalar(select(func.count()).select_from(ActionRun))
            tasks = session.scalar(select(func.count()).select_from(Task))
            assert (runs, tasks) == (3, 1)
            # a later entry into MQL (after recycling) is a new entry: actions run again
            change_stage(session, lead=lead, to="nurture", actor="t", at=NOW, reason="x")
            again = change_stage(session, lead=lead, to="mql", actor="t", at=NOW)
            handoff(
                session,
                changes=[again],
                playbooks=default_playbooks(),
                now=NOW,
                fallback_owner="queue:x",
            )
            assert session.scalar(select(func.count()).select_from(Task)) == 2
