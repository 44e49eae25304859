"""Adjusting a score by hand: who may, on the record, scored and handed off at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from leadgate.actions.models import ActionRun
from leadgate.actions.playbooks import default_playbooks
from leadgate.audit.models import AuditEntry
from leadgate.db.engine import Database
from leadgate.exceptions import LeadgateError, NotFoundError, PermissionDeniedError
from leadgate.leads.models import Lead, StageChange
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import upsert_lead
from leadgate.lifecycle import Stage
from leadgate.qualification import (
    AdjustedLead,
    HandoffPolicy,
    adjust_score,
    enter_stage,
    explain_lead,
    revoke_adjustment,
)
from leadgate.scorecards.models import StoredScorecard
from leadgate.scoring import load_model
from leadgate.users.service import Role, Viewer

NOW = datetime(2026, 12, 9, 9, tzinfo=UTC)
POLICY = HandoffPolicy(playbooks=default_playbooks(), fallback_owner="queue:test")
MODEL = load_model(
    """
version: 1
name: adjustable
groups:
  fit:
    max_points: 20
    rules:
      - {id: cz, when: {lead.country: CZ}, points: 20}
  engagement:
    rules:
      - {id: click, event: email.clicked, points: 15}
  team:
    rollup: {from: engagement, how: sum}
mql: {score: engagement, gte: 30}
"""
)


def _viewer(role: Role, team: set[str] | None = None) -> Viewer:
    rep = next(iter(team)) if team else None
    return Viewer(
        user_id=f"usr_{role.value}",
        email=f"{role.value}@t.example",
        name=role.value,
        role=role,
        rep_email=rep if role is Role.REP else None,
        team=None if team is None else frozenset(team),
    )


REP = _viewer(Role.REP, {"rita@t.example"})
MANAGER = _viewer(Role.MANAGER, {"mia@t.example", "rita@t.example"})
OTHER_REP = _viewer(Role.REP, {"rob@t.example"})
MARKETING = _viewer(Role.MARKETING)
ADMIN = _viewer(Role.ADMIN)


def _lead(db: Database, owner: str | None = "rita@t.example") -> str:
    with db.session() as session:
        lead, _ = upsert_lead(
            session, data=LeadCreate(email="jana@tatra.cz", country="CZ"), now=NOW
        )
        lead.owner = owner
        return lead.id


def _adjust(
    db: Database,
    lead_id: str,
    points: float = 30,
    *,
    group: str = "engagement",
    viewer: Viewer | None = None,
    at: datetime = NOW,
    handoff: HandoffPolicy | None = POLICY,
) -> AdjustedLead:
    with db.session() as session:
        return adjust_score(
            session,
            viewer=viewer,
            actor="user:rita@t.example",
            ref=lead_id,
            group=group,
            points=points,
            reason="met them at the trade fair",
            model=MODEL,
            handoff=handoff,
            now=at,
        )


def _revoke(
    db: Database, lead_id: str, number: int, *, viewer: Viewer | None = None, at: datetime = NOW
) -> AdjustedLead:
    with db.session() as session:
        return revoke_adjustment(
            session,
            viewer=viewer,
            actor="user:mia@t.example",
            ref=lead_id,
            adjustment_id=number,
            model=MODEL,
            handoff=POLICY,
            now=at,
        )


class TestAdjustScore:
    def test_it_can_make_an_mql_handed_off_at_once(self, db: Database) -> None:
        lead_id = _lead(db)
        done = _adjust(db, lead_id, 30)
        answer = done.to_dict()
        assert answer["moved_to_mql"] and answer["stage"] == "mql" and answer["mql"]
        assert answer["scores"] == {"fit": 20, "engagement": 30, "team": 30}
        assert answer["adjustment"]["group"] == "engagement"
        with db.session() as session:
            change = session.scalars(
                select(StageChange).where(StageChange.to_stage == Stage.MQL.value)
            ).one()
            assert change.actor == "user:rita@t.example" and "adjustment:" in (change.reason or "")
            actions = {run.action for run in session.scalars(select(ActionRun))}
            assert {"owner.assign", "task.create", "webhook.send"} <= actions
            (entry,) = session.scalars(select(AuditEntry)).all()
            assert (entry.action, entry.lead_id, entry.at) == ("score.adjusted", lead_id, NOW)
            assert entry.detail == {
                "adjustment": done.adjustment.id,
                "group": "engagement",
                "points": 30.0,
                "reason": "met them at the trade fair",
            }
            stored = session.get(StoredScorecard, lead_id)
            assert stored is not None and stored.scores["engagement"] == 30

    def test_without_a_handoff_the_skip_is_recorded(self, db: Database) -> None:
        lead_id = _lead(db)
        _adjust(db, lead_id, 30, handoff=None)
        with db.session() as session:
            change = session.scalars(
                select(StageChange).where(StageChange.to_stage == Stage.MQL.value)
            ).one()
            assert change.handoff == "skipped"
            assert session.scalars(select(ActionRun)).all() == []

    def test_falling_below_the_definition_does_not_move_an_mql_out(self, db: Database) -> None:
        """As with decay: sales, not scoring, moves a lead out of MQL."""
        lead_id = _lead(db)
        _adjust(db, lead_id, 30)
        done = _adjust(db, lead_id, -20, at=NOW + timedelta(hours=1))
        assert (done.stage, done.to_dict()["mql"]) == ("mql", False)
        assert done.to_dict()["scores"]["engagement"] == 10

    def test_it_is_added_after_the_cap(self, db: Database) -> None:
        lead_id = _lead(db)
        assert _adjust(db, lead_id, 5, group="fit").to_dict()["scores"]["fit"] == 25

    def test_a_group_not_in_the_model_is_refused_naming_the_groups(self, db: Database) -> None:
        lead_id = _lead(db)
        with pytest.raises(LeadgateError, match=r"unknown group 'interest': .* fit, engagement"):
            _adjust(db, lead_id, group="interest")
        with pytest.raises(LeadgateError, match=r"rolls up 'engagement'.*cannot be adjusted"):
            _adjust(db, lead_id, group="team")
        with db.session() as session:
            assert session.scalars(select(AuditEntry)).all() == []

    def test_explain_before_the_adjustment_does_not_see_it(self, db: Database) -> None:
        lead_id = _lead(db)
        _adjust(db, lead_id, 30)
        with db.session() as session:
            before = explain_lead(
                session, lead_id=lead_id, model=MODEL, as_of=NOW - timedelta(seconds=1)
            )
            after = explain_lead(session, lead_id=lead_id, model=MODEL, as_of=NOW)
        assert (before.scores["engagement"], after.scores["engagement"]) == (0, 30)

    def test_recycling_drops_the_adjustments_sales_judged(self, db: Database) -> None:
        """Back in nurture the lead starts over, adjustments included; one made after
        the recycle counts."""
        lead_id = _lead(db)
        _adjust(db, lead_id, 30)
        later = NOW + timedelta(days=1)
        with db.session() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            enter_stage(
                session,
                lead=lead,
                to=Stage.NURTURE,
                actor="user:rita@t.example",
                at=later,
                reason="no budget",
                model=MODEL,
                handoff=None,
            )
            stored = session.get(StoredScorecard, lead_id)
            assert stored is not None and stored.scores["engagement"] == 0
        done = _adjust(db, lead_id, 12, at=later + timedelta(hours=1))
        assert (done.stage, done.to_dict()["scores"]["engagement"]) == ("nurture", 12)


class TestWhoMayAdjust:
    @pytest.mark.parametrize("viewer", [REP, MANAGER, MARKETING, ADMIN, None])
    def test_sales_on_their_leads_marketing_and_admin_on_every_lead(
        self, db: Database, viewer: Viewer | None
    ) -> None:
        lead_id = _lead(db)
        assert _adjust(db, lead_id, 5, viewer=viewer).adjustment.id > 0

    def test_a_rep_of_another_team_is_refused(self, db: Database) -> None:
        lead_id = _lead(db)
        with pytest.raises(PermissionDeniedError, match="another team"):
            _adjust(db, lead_id, 5, viewer=OTHER_REP)
        number = _adjust(db, lead_id, 5).adjustment.id
        with pytest.raises(PermissionDeniedError, match="another team"):
            _revoke(db, lead_id, number, viewer=OTHER_REP)

    def test_marketing_adjusts_an_unassigned_and_another_teams_lead(self, db: Database) -> None:
        lead_id = _lead(db, owner="rob@t.example")
        assert _adjust(db, lead_id, 5, viewer=MARKETING).adjustment.actor == "user:rita@t.example"


class TestRevokeAdjustment:
    def test_it_stops_counting_from_then_on_record_and_rescored(self, db: Database) -> None:
        lead_id = _lead(db)
        number = _adjust(db, lead_id, 20).adjustment.id
        later = NOW + timedelta(hours=2)
        done = _revoke(db, lead_id, number, viewer=MANAGER, at=later)
        assert done.to_dict()["adjustment"]["revoked_by"] == "user:mia@t.example"
        assert done.to_dict()["scores"]["engagement"] == 0
        with db.session() as session:
            actions = [
                e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]
            assert actions == ["score.adjusted", "score.adjustment_revoked"]
            during = explain_lead(
                session, lead_id=lead_id, model=MODEL, as_of=later - timedelta(minutes=1)
            )
            assert during.scores["engagement"] == 20  # still counts before its revocation

    def test_unknown_or_twice_is_refused(self, db: Database) -> None:
        lead_id = _lead(db)
        with pytest.raises(NotFoundError, match="no adjustment 99"):
            _revoke(db, lead_id, 99)
        number = _adjust(db, lead_id, 20).adjustment.id
        _revoke(db, lead_id, number)
        with pytest.raises(LeadgateError, match="revoked already"):
            _revoke(db, lead_id, number)
