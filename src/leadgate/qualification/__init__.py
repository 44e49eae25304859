"""Qualification, the application service: score, promote, rescore, hand off (one path).

The bulk rescore's apply lives in :mod:`leadgate.qualification.rescore` (it needs
the compiled engines, which the request path does not load).
"""

from leadgate.qualification.adjustments import AdjustedLead, adjust_score, revoke_adjustment
from leadgate.qualification.handoff import (
    HandoffPlan,
    HandoffPolicy,
    ReleaseResult,
    hand_off,
    hand_off_entries_after,
    last_entry_id,
    plan_handoff,
    release_skipped,
    skip_handoff,
)
from leadgate.qualification.service import (
    BatchQualification,
    enter_stage,
    explain_lead,
    qualify_all,
    qualify_leads,
    upsert_and_qualify,
)

__all__ = [
    "AdjustedLead",
    "BatchQualification",
    "HandoffPlan",
    "HandoffPolicy",
    "ReleaseResult",
    "adjust_score",
    "enter_stage",
    "explain_lead",
    "hand_off",
    "hand_off_entries_after",
    "last_entry_id",
    "plan_handoff",
    "qualify_all",
    "qualify_leads",
    "release_skipped",
    "revoke_adjustment",
    "skip_handoff",
    "upsert_and_qualify",
]
