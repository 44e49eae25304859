"""Replay the demo world's past: when would each lead have qualified, and what did sales do?

The qualification moments come from the real evaluator, evaluated at the end
of every day on which a lead did something. What sales then did (accept,
qualify, win, or recycle to nurture with a reason) is drawn from the lead's
hidden intent, so the recorded outcomes are what backtests and reports measure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadgate.demo.world import REPS, DemoLead, World
from leadgate.scorecards.service import qualification_reason
from leadgate.scoring import AccountRecord, EventRecord, LeadRecord, ScoringModel, evaluate
from leadgate.scoring.scorecard import Scorecard

__all__ = [
    "Transition",
    "account_record_of",
    "event_records_of",
    "lead_record_of",
    "simulate_history",
]

NURTURE_REASONS = ("not ready to buy", "no budget this year", "timing: revisit next quarter")
DISQUALIFY_REASONS = ("student", "competitor", "bad fit: too small", "job seeker")
STALLED_REASONS = ("stalled: no response", "not a priority now", "no budget confirmed")
LOST_REASONS = ("lost to a competitor", "no decision", "project cancelled")


@dataclass(frozen=True)
class Transition:
    """A stage change to record for a lead."""

    at: datetime
    to: str
    actor: str
    reason: str


def lead_record_of(lead: DemoLead) -> LeadRecord:
    return LeadRecord(
        id=lead.id,
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        title=lead.title,
        seniority=lead.seniority,
        department=lead.department,
        country=lead.country,
        source=lead.channel,
        channel=lead.channel,
        campaign=lead.campaign,
        account_id=None if lead.account is None else lead.account.id,
    )


def account_record_of(lead: DemoLead) -> AccountRecord | None:
    account = lead.account
    if account is None:
        return None
    return AccountRecord(
        id=account.id,
        domain=account.domain,
        name=account.name,
        industry=account.industry,
        employees=account.employees,
        annual_revenue=account.annual_revenue,
        country=account.country,
        tier=account.tier,
        owner=account.owner,
    )


def event_records_of(lead: DemoLead) -> list[EventRecord]:
    return [
        EventRecord(
            id=event.event_id,
            type=event.type,
            ts=event.ts,
            properties=event.properties,
            channel=event.channel,
            campaign=event.campaign,
        )
        for event in lead.events
    ]


def _end_of_day(ts: datetime) -> datetime:
    return ts.replace(hour=23, minute=59, second=59, microsecond=0)


def _sales_outcome(
    rng: random.Random, lead: DemoLead, mql_at: datetime, now: datetime, attempt: int
) -> list[Transition]:
    """What sales did with one MQL, cut at ``now`` (later steps have not happened yet).

    Sales is warier of a lead it already sent back: each earlier attempt lowers
    the chance of acceptance.
    """
    rep = (
        lead.account.owner if lead.account is not None and lead.account.owner else rng.choice(REPS)
    )
    steps: list[Transition] = []
    at = mql_at + timedelta(hours=rng.uniform(1, 60))
    intent = lead.intent
    if rng.random() < (0.42 + 0.5 * intent) * 0.6**attempt:
        steps.append(Transition(at, "sal", rep, "accepted"))
        at += timedelta(days=rng.uniform(2, 16))
        if rng.random() < 0.01 + 0.35 * intent**2:
            steps.append(Transition(at, "sql", rep, "BANT confirmed"))
            at += timedelta(days=rng.uniform(3, 12))
            if rng.random() < 0.75:
                steps.append(Transition(at, "opportunity", rep, "opportunity opened"))
                at += timedelta(days=rng.uniform(14, 60))
                if rng.random() < 0.25 + 0.45 * intent:
                    steps.append(Transition(at, "customer", rep, "closed won"))
                else:
                    steps.append(Transition(at, "nurture", rep, rng.choice(LOST_REASONS)))
            else:
                steps.append(Transition(at, "nurture", rep, rng.choice(STALLED_REASONS)))
        else:
            steps.append(Transition(at, "nurture", rep, rng.choice(STALLED_REASONS)))
    elif rng.random() < 0.72:
        steps.append(Transition(at, "nurture", rep, rng.choice(NURTURE_REASONS)))
    else:
        steps.append(Transition(at, "disqualified", rep, rng.choice(DISQUALIFY_REASONS)))
    return [step for step in steps if step.at < now]


def simulate_history(
    world: World, model: ScoringModel, *, replay_until: datetime
) -> dict[str, list[Transition]]:
    """Stage changes per lead id, oldest first, from replaying ``model`` day by day."""
    history: dict[str, list[Transition]] = {}
    actor = f"system:{model.label}"
    for lead in world.leads:
        rng = random.Random(f"{world.seed}:{lead.id}")
        record, account = lead_record_of(lead), account_record_of(lead)
        events = event_records_of(lead)
        checkpoints = sorted({_end_of_day(event.ts) for event in events})
        transitions: list[Transition] = []
        stage = lead.initial_stage
        eligible_after = lead.created_at
        for checkpoint in checkpoints:
            if checkpoint > replay_until:
                break
            if stage not in ("subscriber", "lead", "nurture") or checkpoint <= eligible_after:
                continue
            # a recycled lead qualifies again on what it did after it was recycled
            counted = [e for e in events if e.ts > eligible_after] if stage == "nurture" else events
            if not counted:
                continue
            card: Scorecard = evaluate(model, record, account, counted, checkpoint)
            if not card.mql:
                continue
            attempt = sum(1 for step in transitions if step.to == "mql")
            transitions.append(Transition(checkpoint, "mql", actor, qualification_reason(card)))
            outcome = _sales_outcome(rng, lead, checkpoint, world.end, attempt)
            transitions.extend(outcome)
            stage = outcome[-1].to if outcome else "mql"
            if stage != "nurture":
                break
            eligible_after = outcome[-1].at
        if transitions:
            history[lead.id] = transitions
    return history
