"""Import every table module so ``Base.metadata`` is complete (migrations, tests)."""

from __future__ import annotations

from leadgate.accounts.models import Account
from leadgate.db.base import Base
from leadgate.db.meta import MetaEntry
from leadgate.events.models import Event
from leadgate.keys.models import ApiKey
from leadgate.leads.models import Lead, LeadAlias, StageChange
from leadgate.predictive.models import Prediction, PredictiveModel
from leadgate.scorecards.models import StoredScorecard

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Event",
    "Lead",
    "LeadAlias",
    "MetaEntry",
    "Prediction",
    "PredictiveModel",
    "StageChange",
    "StoredScorecard",
]
