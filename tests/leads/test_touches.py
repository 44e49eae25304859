"""A lead's stored touches (leads.*_touch_*): recorded, kept across a round trip to
the database, combined when two leads are merged; the lead's own channel kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadgate.db.engine import Database
from leadgate.leads.attribution import Touch
from leadgate.leads.models import Lead
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import merge_leads, upsert_lead
from leadgate.leads.touches import attribution_of, record_touch

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class TestLeadTouches:
    def test_record_round_trip_and_merge(self, db: Database) -> None:
        with db.session() as session:
            keep, _ = upsert_lead(
                session, data=LeadCreate(id="k", email="k@acme.cz", channel="event"), now=T0
            )
            drop, _ = upsert_lead(session, data=LeadCreate(id="d", email="d@acme.cz"), now=T0)
            record_touch(keep, Touch(at=T0, source="google", medium="cpc", campaign="brand"))
            record_touch(keep, Touch(at=T0 + timedelta(days=5)))  # direct: latest stays
            record_touch(
                drop, Touch(at=T0 - timedelta(days=2), source="newsletter", medium="email")
            )
            record_touch(drop, Touch(at=T0 + timedelta(days=1), source="linkedin"))
            assert drop.channel == "email"  # empty: the first touch's
        with db.session() as session:
            keep = session.get(Lead, "k")
            drop = session.get(Lead, "d")
            assert keep is not None and drop is not None
            assert keep.first_touch_at == T0 and keep.latest_touch_campaign == "brand"
            merge_leads(session, keep=keep, drop=drop, actor="tester", now=T0)
            merged = attribution_of(keep)
        assert merged.first is not None and merged.latest is not None
        assert (merged.first.source, merged.first.channel) == ("newsletter", "email")
        assert merged.first.at == T0 - timedelta(days=2)
        assert (merged.latest.source, merged.latest.channel) == ("linkedin", "organic_social")
        with db.session() as session:
            stored = session.get(Lead, "k")
            assert stored is not None
            assert (stored.first_touch_channel, stored.latest_touch_channel) == (
                "email",
                "organic_social",
            )
            assert stored.channel == "event"  # set by whoever created it: kept
