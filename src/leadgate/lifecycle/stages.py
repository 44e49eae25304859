"""Stages of the funnel and who may move a lead between them.

The table is explicit on purpose: marketing and sales can read it, and a move
that is not in it is refused with the allowed targets, never forced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from leadgate.exceptions import TransitionError

__all__ = [
    "AUTO_QUALIFY_FROM",
    "FUNNEL_ORDER",
    "LISTED_REASON",
    "NEEDS_REASON",
    "OUTCOME_STAGES",
    "STAGE_DEPTH",
    "TRANSITIONS",
    "Stage",
    "allowed_targets",
    "check_transition",
    "is_allowed",
    "recycled_at",
]


class Stage(StrEnum):
    """Funnel stages in their usual order; ``nurture`` holds recycled leads."""

    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"


#: Stages from which the scoring model may promote a lead to MQL. A recycled
#: (nurture) lead qualifies again: there is no once-ever limit.
AUTO_QUALIFY_FROM = frozenset({Stage.SUBSCRIBER, Stage.LEAD, Stage.NURTURE})

#: The funnel's forward stages, earliest first; reaching a later one implies the earlier
#: (imported CRM history may skip stages, e.g. straight from MQL to customer).
FUNNEL_ORDER: tuple[Stage, ...] = (
    Stage.SUBSCRIBER,
    Stage.LEAD,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
)

#: How deep in the funnel a stage is: when two merged leads disagree, the deeper wins.
STAGE_DEPTH: Mapping[Stage, int] = {
    Stage.DISQUALIFIED: 0,
    Stage.SUBSCRIBER: 1,
    Stage.LEAD: 2,
    Stage.NURTURE: 3,
    Stage.MQL: 4,
    Stage.SAL: 5,
    Stage.SQL: 6,
    Stage.OPPORTUNITY: 7,
    Stage.CUSTOMER: 8,
}

#: The outcomes predictive scoring and backtests learn from: a lead reached one when
#: it entered that stage or any later one.
OUTCOME_STAGES: Mapping[str, tuple[str, ...]] = {
    "sql": (Stage.SQL.value, Stage.OPPORTUNITY.value, Stage.CUSTOMER.value),
    "customer": (Stage.CUSTOMER.value,),
}

#: Moves that send a lead back and must say why.
NEEDS_REASON: frozenset[tuple[Stage, Stage]] = frozenset(
    (source, target)
    for source in (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
    for target in (Stage.NURTURE, Stage.DISQUALIFIED)
)
#: Rejections of a fresh MQL take a reason from the configured list (reports group by it).
LISTED_REASON: frozenset[tuple[Stage, Stage]] = frozenset(
    {(Stage.MQL, Stage.NURTURE), (Stage.MQL, Stage.DISQUALIFIED)}
)

TRANSITIONS: Mapping[Stage, frozenset[Stage]] = {
    Stage.SUBSCRIBER: frozenset({Stage.LEAD, Stage.MQL, Stage.DISQUALIFIED}),
    Stage.LEAD: frozenset({Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.MQL: frozenset({Stage.SAL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.SAL: frozenset({Stage.SQL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.SQL: frozenset({Stage.OPPORTUNITY, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.OPPORTUNITY: frozenset({Stage.CUSTOMER, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.CUSTOMER: frozenset(),
    Stage.NURTURE: frozenset({Stage.MQL, Stage.LEAD, Stage.DISQUALIFIED}),
    Stage.DISQUALIFIED: frozenset({Stage.NURTURE}),
}


def allowed_targets(current: Stage | str) -> tuple[Stage, ...]:
    """Stages reachable from ``current`` in one move, in funnel order."""
    targets = TRANSITIONS[Stage(current)]
    return tuple(stage for stage in Stage if stage in targets)


def is_allowed(current: Stage | str, target: Stage | str) -> bool:
    return Stage(target) in TRANSITIONS[Stage(current)]


def check_transition(current: Stage | str, target: Stage | str) -> Stage:
    """Return ``target`` as a Stage, or raise TransitionError naming the allowed targets."""
    try:
        to = Stage(target)
    except ValueError:
        raise TransitionError(
            f"unknown stage {target!r}; stages are {', '.join(s.value for s in Stage)}"
        ) from None
    source = Stage(current)
    if to not in TRANSITIONS[source]:
        allowed = tuple(stage.value for stage in allowed_targets(source))
        raise TransitionError(
            f"cannot move a lead from {source.value} to {to.value}; "
            f"allowed: {', '.join(allowed) or 'none'}",
            allowed=allowed,
        )
    return to


def recycled_at(
    changes: Iterable[tuple[str, str, datetime]], as_of: datetime
) -> dict[str, datetime]:
    """The leads in ``nurture`` at ``as_of``, by the instant they were sent there.

    ``changes`` are stage entries ``(lead_id, to_stage, at)`` in time order; only those
    at or before ``as_of`` are read. A recycled lead counts only what it did after
    that instant (the rule scoring applies to a lead's current stage, replayed here
    from its history).
    """
    latest: dict[str, tuple[str, datetime]] = {}
    for lead_id, stage, at in changes:
        if at <= as_of:
            latest[lead_id] = (stage, at)
    return {lead: at for lead, (stage, at) in latest.items() if stage == Stage.NURTURE.value}
