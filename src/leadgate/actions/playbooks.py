"""Handoff playbooks (YAML): on entering a stage, when a condition holds, run actions.

```yaml
version: 1
name: default-handoff
playbooks:
  - id: mql-handoff
    on: mql
    actions:
      - owner.assign
      - task.create: {title: "Call {lead.first_name} at {account.name}", due_in_minutes: 60}
      - webhook.send: {event: lead.mql}
  - id: tier-1-vip
    on: mql
    when: {account.tier: ["1", tier-1]}
    actions:
      - sequence.enroll: {sequence: vip-event}
```

Validated like scoring models: unknown keys, stages, actions and config fields are
errors naming the file, line and path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from leadgate.actions.registry import registry
from leadgate.exceptions import ModelError
from leadgate.lifecycle import Stage
from leadgate.scoring.loader import parse_condition
from leadgate.scoring.nodes import Condition
from leadgate.scoring.yamldoc import load_yaml

__all__ = [
    "PlannedAction",
    "Playbook",
    "Playbooks",
    "default_playbooks",
    "load_playbooks",
    "load_playbooks_file",
]


@dataclass(frozen=True)
class PlannedAction:
    key: str
    config: BaseModel


@dataclass(frozen=True)
class Playbook:
    id: str
    on: Stage
    when: Condition | None
    actions: tuple[PlannedAction, ...]


@dataclass(frozen=True)
class Playbooks:
    name: str
    version: int
    playbooks: tuple[Playbook, ...]
    #: the YAML text they were loaded from (what the settings page shows and edits)
    source: str = field(default="", compare=False, repr=False)

    def for_stage(self, stage: str) -> tuple[Playbook, ...]:
        return tuple(p for p in self.playbooks if p.on.value == stage)


def load_playbooks(text: str, *, file: str | None = None) -> Playbooks:
    """Parse and validate a playbooks document."""
    doc = load_yaml(text, file=file)
    raw = doc.value
    if not isinstance(raw, dict):
        raise doc.error((), "a playbooks file must be a YAML mapping")
    for key in raw:
        if key not in {"version", "name", "description", "playbooks"}:
            raise doc.error(
                (str(key),), f"unknown key {key!r}; allowed: version, name, description, playbooks"
            )
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise doc.error(("version",), "version must be a whole number >= 1")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise doc.error(("name",), "name is required")
    items = raw.get("playbooks")
    if not isinstance(items, list) or not items:
        raise doc.error(("playbooks",), "playbooks must be a non-empty list")
    types = registry()
    seen: set[str] = set()
    out = []
    for index, item in enumerate(items):
        path: tuple[str | int, ...] = ("playbooks", index)
        if not isinstance(item, dict):
            raise doc.error(path, "a playbook is a mapping with id, on, actions")
        for key in item:
            if key not in {"id", "on", "when", "actions", "description"}:
                raise doc.error(
                    (*path, str(key)), f"unknown key {key!r}; allowed: id, on, when, actions"
                )
        playbook_id = item.get("id")
        if not isinstance(playbook_id, str) or not playbook_id.strip():
            raise doc.error((*path, "id"), "id is required")
        if playbook_id in seen:
            raise doc.error((*path, "id"), f"duplicate playbook id {playbook_id!r}")
        seen.add(playbook_id)
        try:
            on = Stage(str(item.get("on")))
        except ValueError:
            stages = ", ".join(stage.value for stage in Stage)
            raise doc.error((*path, "on"), f"on must be a stage: {stages}") from None
        when = None
        if item.get("when") is not None:
            when = parse_condition(doc, item["when"], (*path, "when"))
        actions_raw = item.get("actions")
        if not isinstance(actions_raw, list) or not actions_raw:
            raise doc.error((*path, "actions"), "actions must be a non-empty list")
        actions = []
        for position, entry in enumerate(actions_raw):
            where = (*path, "actions", position)
            config: Any = {}
            if isinstance(entry, str):
                key = entry
            elif isinstance(entry, dict) and len(entry) == 1:
                key, config = next(iter(entry.items()))
                config = config or {}
            else:
                raise doc.error(where, "an action is a key (owner.assign) or {key: {config}}")
            action_type = types.get(str(key))
            if action_type is None:
                raise doc.error(
                    where, f"unknown action {key!r}; actions: {', '.join(sorted(types))}"
                )
            if not isinstance(config, dict):
                raise doc.error((*where, str(key)), "the action's config must be a mapping")
            try:
                parsed = action_type.config.model_validate(config)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = tuple(str(part) for part in first.get("loc", ()))
                message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
                raise doc.error((*where, str(key), *loc), message) from None
            actions.append(PlannedAction(key=str(key), config=parsed))
        out.append(Playbook(id=playbook_id, on=on, when=when, actions=tuple(actions)))
    return Playbooks(name=name, version=version, playbooks=tuple(out), source=text)


def load_playbooks_file(path: str | Path) -> Playbooks:
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read playbooks: {exc}", file=str(path)) from None
    return load_playbooks(text, file=str(path))


def default_playbooks() -> Playbooks:
    """The shipped playbooks: on MQL assign an owner, a task due in 1 hour, send lead.mql."""
    text = resources.files(__package__).joinpath("default_playbooks.yaml").read_text("utf-8")
    return load_playbooks(text, file="default_playbooks.yaml")
