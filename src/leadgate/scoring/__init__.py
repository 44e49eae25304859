"""The scoring-model language and its pure evaluator.

Load a model with :func:`load_model_file`, score a lead with :func:`evaluate`.
Nothing in this package performs I/O beyond reading the model file, and
nothing reads the clock.
"""

from __future__ import annotations

from leadgate.scoring.evaluator import evaluate, evaluate_account
from leadgate.scoring.loader import load_model, load_model_file
from leadgate.scoring.nodes import ScoringModel
from leadgate.scoring.records import AccountRecord, Adjustment, EventRecord, LeadRecord
from leadgate.scoring.scorecard import Scorecard

__all__ = [
    "AccountRecord",
    "Adjustment",
    "EventRecord",
    "LeadRecord",
    "Scorecard",
    "ScoringModel",
    "default_model",
    "evaluate",
    "evaluate_account",
    "load_model",
    "load_model_file",
]


def default_model() -> ScoringModel:
    """The model shipped with leadgate (``b2b-default``)."""
    from importlib import resources

    text = resources.files("leadgate.scoring").joinpath("default_model.yaml").read_text("utf-8")
    return load_model(text, file="<leadgate>/default_model.yaml")
