"""Point-in-time features per lead, read from the operational database.

Everything is computed as of one instant: events after it, leads created after
it and stage changes after it are invisible, so a model trained on these
features never sees the future it is asked to predict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgate.accounts.models import Account
from leadgate.events.models import Event
from leadgate.leads.models import Lead, StageChange
from leadgate.lifecycle import OUTCOME_STAGES, recycled_at
from leadgate.reference import free_mail_domains

__all__ = [
    "CATEGORICAL",
    "OUTCOME_STAGES",
    "WINDOWS",
    "FeatureFrame",
    "build_features",
    "describe_feature",
    "outcome_labels",
]

WINDOWS = (7, 30, 90)
CATEGORICAL = (
    "seniority",
    "department",
    "country",
    "channel",
    "campaign",
    "industry",
    "account_country",
    "tier",
)
_MAX_EVENT_TYPES = 20


@dataclass(frozen=True)
class FeatureFrame:
    """Feature rows indexed by lead id, and the event types they were built from."""

    frame: pd.DataFrame
    event_types: tuple[str, ...]
    as_of: datetime


def _events(session: Session, as_of: datetime, lead_ids: list[str] | None) -> pd.DataFrame:
    """The events that count for each lead at ``as_of``: up to it, and for a lead that
    sat in nurture then, only those after it was recycled (what scoring counts at
    that instant, read from the stage history), so a prediction follows the same
    rule as the points it is tested beside."""
    query = select(Event.lead_id, Event.type, Event.occurred_at, Event.properties).where(
        Event.occurred_at <= as_of
    )
    if lead_ids is not None:
        query = query.where(Event.lead_id.in_(lead_ids))
    rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["lead_id", "type", "ts", "properties"])
    if frame.empty:
        return frame
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    changes = select(StageChange.lead_id, StageChange.to_stage, StageChange.at).where(
        StageChange.at <= as_of
    )
    if lead_ids is not None:
        changes = changes.where(StageChange.lead_id.in_(lead_ids))
    ordered = session.execute(changes.order_by(StageChange.at, StageChange.id))
    recycled = recycled_at(((row[0], row[1], row[2]) for row in ordered), as_of)
    if recycled:
        since = frame["lead_id"].map(pd.Series(recycled, dtype="datetime64[us, UTC]"))
        frame = frame[since.isna() | (frame["ts"] > since)].reset_index(drop=True)
    return frame


def build_features(
    session: Session,
    *,
    as_of: datetime,
    event_types: tuple[str, ...] | None = None,
    account_of: str | None = None,
) -> FeatureFrame:
    """Features of every lead created by ``as_of``: fit attributes, event counts and recency.

    ``event_types`` fixes the event columns (use the training run's list when
    scoring); by default the most frequent types up to ``as_of`` are used.
    ``account_of`` limits the work to one lead and its account's other leads
    (the account roll-ups need them): explaining one lead on demand.
    """
    lead_query = select(
        Lead.id,
        Lead.email,
        Lead.seniority,
        Lead.department,
        Lead.country,
        Lead.channel,
        Lead.campaign,
        Lead.account_id,
        Lead.created_at,
    ).where(Lead.created_at <= as_of)
    lead_ids: list[str] | None = None
    if account_of is not None:
        account_id = session.scalar(select(Lead.account_id).where(Lead.id == account_of))
        scope = Lead.id == account_of if account_id is None else Lead.account_id == account_id
        lead_query = lead_query.where(scope)
        lead_ids = list(session.scalars(select(Lead.id).where(scope)))
    # in id order: the rows' order feeds the split and the boosting, and a table's
    # physical order is no order (PostgreSQL moves a row on every update)
    leads = pd.DataFrame(
        session.execute(lead_query.order_by(Lead.id)).all(),
        columns=[
            "lead_id",
            "email",
            "seniority",
            "department",
            "country",
            "channel",
            "campaign",
            "account_id",
            "created_at",
        ],
    )
    accounts = pd.DataFrame(
        session.execute(
            select(
                Account.id,
                Account.industry,
                Account.country,
                Account.tier,
                Account.employees,
                Account.annual_revenue,
            )
        ).all(),
        columns=[
            "account_id",
            "industry",
            "account_country",
            "tier",
            "employees",
            "annual_revenue",
        ],
    )
    frame = leads.merge(accounts, on="account_id", how="left").set_index("lead_id")
    stamp = pd.Timestamp(as_of)
    frame["lead_age_days"] = (
        stamp - pd.to_datetime(frame["created_at"], utc=True)
    ).dt.total_seconds() / 86400
    free = free_mail_domains()
    frame["free_mail"] = (
        frame["email"].str.rsplit("@", n=1).str[-1].str.lower().isin(free).astype(float)
    )
    events = _events(session, as_of, lead_ids)
    if event_types is None:
        counts = events["type"].value_counts() if not events.empty else pd.Series(dtype=int)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))  # ties by name
        event_types = tuple(sorted(str(kind) for kind, _ in ranked[:_MAX_EVENT_TYPES]))
    age = (
        (stamp - events["ts"]).dt.total_seconds() / 86400
        if not events.empty
        else pd.Series(dtype=float)
    )
    for event_type in event_types:
        mask = events["type"] == event_type if not events.empty else pd.Series(dtype=bool)
        subset = events.loc[mask, ["lead_id"]].assign(age=age[mask]) if not events.empty else None
        for window in WINDOWS:
            column = f"{event_type}|count_{window}d"
            if subset is None or subset.empty:
                frame[column] = 0.0
                continue
            counted = subset[subset["age"] <= window].groupby("lead_id").size()
            frame[column] = counted.reindex(frame.index).fillna(0.0).astype(float)
        column = f"{event_type}|days_since_last"
        if subset is None or subset.empty:
            frame[column] = np.nan
        else:
            frame[column] = subset.groupby("lead_id")["age"].min().reindex(frame.index)
    if not events.empty:
        urls = events["properties"].map(
            lambda p: str(p.get("url", "")) if isinstance(p, dict) else ""
        )
        pricing = events[
            (events["type"] == "page.viewed") & urls.str.contains("/pricing", regex=False)
        ]
        recent = pricing[age[pricing.index] <= 30].groupby("lead_id").size()
        frame["pricing_views|count_30d"] = recent.reindex(frame.index).fillna(0.0).astype(float)
        per_lead_30d = events[age <= 30].groupby("lead_id").size()
        frame["_events_30d"] = per_lead_30d.reindex(frame.index).fillna(0.0)
    else:
        frame["pricing_views|count_30d"] = 0.0
        frame["_events_30d"] = 0.0
    by_account = frame.groupby("account_id")
    frame["account_leads"] = (
        by_account["email"].transform("size").where(frame["account_id"].notna(), 1.0)
    )
    frame["account_events_30d"] = (
        by_account["_events_30d"]
        .transform("sum")
        .where(frame["account_id"].notna(), frame["_events_30d"])
    )
    frame = frame.drop(columns=["email", "account_id", "created_at", "_events_30d"])
    for column in CATEGORICAL:
        frame[column] = (
            frame[column].astype("string").fillna("(missing)").str.lower().astype("category")
        )
    for column in frame.columns:
        if column not in CATEGORICAL:
            frame[column] = frame[column].astype("float64")
    return FeatureFrame(frame=frame, event_types=event_types, as_of=as_of)


def outcome_labels(
    session: Session, *, outcome: str, as_of: datetime, until: datetime
) -> tuple[set[str], set[str]]:
    """(leads that reached the outcome by ``as_of``, leads that reached it in (as_of, until])."""
    stages = OUTCOME_STAGES[outcome]
    rows = session.execute(
        select(StageChange.lead_id, StageChange.at).where(StageChange.to_stage.in_(stages))
    ).all()
    before = {lead_id for lead_id, at in rows if at <= as_of}
    after = {lead_id for lead_id, at in rows if as_of < at <= until} - before
    return before, after


def describe_feature(name: str, value: object) -> str:
    """A readable phrase for a feature and its value (``page.viewed in 30 days = 4``)."""
    shown = "missing" if value is None or (isinstance(value, float) and np.isnan(value)) else value
    if isinstance(shown, float) and shown.is_integer():
        shown = int(shown)
    elif isinstance(shown, float):
        shown = round(shown, 1)
    if "|" in name:
        event_type, measure = name.split("|", 1)
        if measure.startswith("count_"):
            return (
                f"{event_type} in {measure.removeprefix('count_').removesuffix('d')} days = {shown}"
            )
        if measure == "days_since_last":
            return f"days since last {event_type} = {shown}"
    return f"{name.replace('_', ' ')} = {shown}"
