"""The registry of action types: a namespaced key, a typed config, and what it does.

An action type is registered once under a key such as ``owner.assign``; a second
registration of the same key is an error, never a silent override. Playbooks
name the key and give the config, validated by the type's pydantic model when
the playbook is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from leadgate.leads.models import Lead, StageChange

__all__ = ["ActionContext", "ActionType", "register", "registry"]

_KEY = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass
class ActionContext:
    """What an action sees: the transaction, the lead, the stage entry, the clock."""

    session: Session
    lead: Lead
    change: StageChange
    now: datetime
    fallback_owner: str


@dataclass(frozen=True)
class ActionType:
    """A registered action: its key, config model and the function that runs it."""

    key: str
    config: type[BaseModel]
    run: Callable[[ActionContext, Any], dict[str, Any]]
    description: str


_REGISTRY: dict[str, ActionType] = {}


def register(
    key: str, config: type[BaseModel], description: str
) -> Callable[
    [Callable[[ActionContext, Any], dict[str, Any]]], Callable[[ActionContext, Any], dict[str, Any]]
]:
    """Decorator: register ``run`` as action ``key`` (namespaced: ``noun.verb``)."""
    if not _KEY.match(key):
        raise ValueError(f"action key {key!r} must be namespaced like owner.assign")

    def decorate(
        run: Callable[[ActionContext, Any], dict[str, Any]],
    ) -> Callable[[ActionContext, Any], dict[str, Any]]:
        if key in _REGISTRY:
            raise ValueError(f"action {key!r} is already registered")
        _REGISTRY[key] = ActionType(key=key, config=config, run=run, description=description)
        return run

    return decorate


def registry() -> Mapping[str, ActionType]:
    """The registered action types by key (built-ins loaded)."""
    from leadgate.actions import builtin  # noqa: F401  (registers on import)

    return dict(_REGISTRY)
