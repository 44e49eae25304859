"""``leadgate model ...``: work with scoring-model files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.tree import Tree

from leadgate.cli.output import JsonOption, console, emit_json, guard
from leadgate.scoring import ScoringModel, load_model_file
from leadgate.scoring.nodes import AttributeRule, RollupGroup

__all__ = ["app", "check", "describe_model"]

app = typer.Typer(help="Validate and inspect scoring models.", no_args_is_help=True)


def describe_model(model: ScoringModel) -> dict[str, Any]:
    """A JSON-friendly outline of a model."""
    groups: dict[str, Any] = {}
    for group in model.groups:
        if isinstance(group, RollupGroup):
            groups[group.name] = {"rollup": {"from": group.source, "how": group.how}}
        else:
            groups[group.name] = {
                "rules": [rule.id for rule in group.rules],
                "max_points": group.max_points,
                "min_points": group.min_points,
            }
    return {
        "name": model.name,
        "version": model.version,
        "label": model.label,
        "groups": groups,
        "grades": None if model.grades is None else list(model.grades.labels),
        "has_mql_definition": model.mql is not None,
    }


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="Model YAML file."),
    as_json: bool = JsonOption,
) -> None:
    """Validate a model file: exit 0 when valid, else print where it is wrong and exit 2."""
    with guard(as_json):
        model = load_model_file(file)
    outline = describe_model(model)
    if as_json:
        emit_json({"ok": True, "file": str(file), **outline})
        return
    tree = Tree(f"[bold green]valid[/] {model.label}  ({file})")
    for group in model.groups:
        if isinstance(group, RollupGroup):
            tree.add(
                f"[bold]{group.name}[/]: {group.how} of {group.source} over the account's leads"
            )
            continue
        cap = f" (max {group.max_points:g})" if group.max_points is not None else ""
        branch = tree.add(f"[bold]{group.name}[/]{cap}")
        for rule in group.rules:
            if isinstance(rule, AttributeRule):
                branch.add(f"{rule.id}: {rule.points:+g}")
            else:
                decay = (
                    f", half-life {rule.half_life_days:g}d"
                    if rule.half_life_days is not None
                    else ", no decay"
                )
                limit = f", at most {rule.max_count}" if rule.max_count is not None else ""
                branch.add(
                    f"{rule.id}: {rule.points:+g} per {'/'.join(rule.event_types)}{decay}{limit}"
                )
    if model.grades is not None:
        bands = ", ".join(f"{label} >= {lower:g}" for label, lower in model.grades.bands)
        tree.add(f"grades on {model.grades.group}: {bands}, else {model.grades.otherwise}")
    tree.add("MQL definition: " + ("yes" if model.mql is not None else "none (never MQL)"))
    console.print(tree)
