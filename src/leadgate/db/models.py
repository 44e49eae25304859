"""Import every table module so ``Base.metadata`` is complete (migrations, tests)."""

from __future__ import annotations

from leadgate.accounts.models import Account
from leadgate.actions.models import ActionRun, PlaybookVersion, SequenceEnrollment
from leadgate.audit.models import AuditEntry
from leadgate.db.base import Base
from leadgate.db.meta import MetaEntry
from leadgate.events.models import Event
from leadgate.ingest.models import AnonymousMessage
from leadgate.keys.models import ApiKey
from leadgate.leads.models import Lead, LeadAlias, Qualification, StageChange
from leadgate.predictive.models import Prediction, PredictiveModel
from leadgate.reps.models import Rep, RepAbsence
from leadgate.scorecards.models import ScoreAdjustment, StoredScorecard
from leadgate.tasks.models import Task
from leadgate.users.models import User, WebSession
from leadgate.webhooks.models import Delivery, OutboxMessage, Subscription

__all__ = [
    "Account",
    "ActionRun",
    "AnonymousMessage",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Delivery",
    "Event",
    "Lead",
    "LeadAlias",
    "MetaEntry",
    "OutboxMessage",
    "PlaybookVersion",
    "Prediction",
    "PredictiveModel",
    "Qualification",
    "Rep",
    "RepAbsence",
    "ScoreAdjustment",
    "SequenceEnrollment",
    "StageChange",
    "StoredScorecard",
    "Subscription",
    "Task",
    "User",
    "WebSession",
]
