"""Column mappings for imports (``--map mapping.yaml``).

A mapping says which source column feeds which leadgate field, fixed values,
value translations, and the time zone of naive timestamps::

    columns: {email: "E-mail", occurred_at: timestamp, type: event_name,
              attributes.landing_page: lp_id}     # a custom value under another name
    constants: {channel: email}
    values: {type: {"Email Opened": email.opened}}
    templates: {email: "{mql_id}@olist.invalid"}   # built from source columns
    assume_tz: Europe/Prague
    ignore: [internal_note]

Source columns not mapped and not ignored become custom ``attributes`` (leads,
accounts) or ``properties`` (events).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

from leadgate.common.text import parse_timezone
from leadgate.exceptions import ModelError
from leadgate.scoring.yamldoc import load_yaml

__all__ = ["FIELDS", "ImportMapping", "load_mapping"]

#: leadgate fields per import kind; the first tuple item lists required ones.
FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "leads": (
        frozenset({"email"}),
        frozenset(
            {
                "id",
                "email",
                "first_name",
                "last_name",
                "title",
                "seniority",
                "department",
                "country",
                "source",
                "channel",
                "campaign",
                "do_not_email",
                "do_not_call",
                "account_id",
                "account_domain",
                "stage",
                "stage_at",
                "created_at",
            }
        ),
    ),
    "accounts": (
        frozenset(),
        frozenset(
            {
                "id",
                "domain",
                "name",
                "industry",
                "employees",
                "annual_revenue",
                "country",
                "tier",
                "owner",
            }
        ),
    ),
    "events": (
        frozenset({"type", "occurred_at"}),
        frozenset({"event_id", "lead_id", "email", "type", "occurred_at", "channel", "campaign"}),
    ),
}


@dataclass(frozen=True)
class ImportMapping:
    """How source columns become leadgate fields (identity when empty)."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    assume_tz: tzinfo | None = None

    def source_for(self, target: str) -> str:
        return self.columns.get(target, target)


def _custom_name(kind: str, target: str) -> str | None:
    """``attributes.NAME`` (leads, accounts) or ``properties.NAME`` (events) -> NAME."""
    prefix = "properties." if kind == "events" else "attributes."
    name = target.removeprefix(prefix)
    return name if target.startswith(prefix) and name else None


def load_mapping(path: str | Path, *, kind: str) -> ImportMapping:
    """Read and validate a mapping file for ``kind`` (leads, accounts or events)."""
    file = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read mapping: {exc}", file=file) from None
    doc = load_yaml(text, file=file)
    raw = doc.value
    if not isinstance(raw, dict):
        raise doc.error((), "a mapping file must be a YAML mapping")
    allowed_keys = {"kind", "columns", "constants", "values", "templates", "ignore", "assume_tz"}
    for key in raw:
        if key not in allowed_keys:
            raise doc.error(
                (str(key),), f"unknown key {key!r}; allowed: {', '.join(sorted(allowed_keys))}"
            )
    if raw.get("kind") is not None and raw["kind"] != kind:
        raise doc.error(("kind",), f"this mapping is for {raw['kind']!r}, not {kind!r}")
    fields = FIELDS[kind][1]

    def text_map(key: str) -> dict[str, str]:
        value = raw.get(key) or {}
        if not isinstance(value, dict):
            raise doc.error((key,), f"'{key}' must map leadgate fields to values")
        out: dict[str, str] = {}
        for target, source in value.items():
            if key == "columns" and _custom_name(kind, str(target)) is not None:
                pass  # attributes.<name> / properties.<name>: a custom value, renamed
            elif target not in fields:
                raise doc.error(
                    (key, str(target)),
                    f"unknown {kind} field {target!r}; fields: {', '.join(sorted(fields))}",
                )
            if not isinstance(source, (str, int, float)) or isinstance(source, bool):
                raise doc.error((key, str(target)), "expected a column name or value as text")
            out[str(target)] = str(source)
        return out

    columns = text_map("columns")
    constants = text_map("constants")
    templates = text_map("templates")
    for target, template in templates.items():
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        except ValueError as exc:
            raise doc.error(("templates", target), f"bad template: {exc}") from None
        if not names:
            raise doc.error(
                ("templates", target), "a template names at least one {column}; use constants"
            )
    values_raw = raw.get("values") or {}
    if not isinstance(values_raw, dict):
        raise doc.error(("values",), "'values' must map fields to {source value: leadgate value}")
    values: dict[str, dict[str, str]] = {}
    for target, table in values_raw.items():
        if target not in fields:
            raise doc.error(("values", str(target)), f"unknown {kind} field {target!r}")
        if not isinstance(table, dict):
            raise doc.error(("values", str(target)), "expected {source value: leadgate value}")
        values[str(target)] = {str(k): str(v) for k, v in table.items()}
    ignore_raw = raw.get("ignore") or []
    if not isinstance(ignore_raw, list):
        raise doc.error(("ignore",), "'ignore' must be a list of column names")
    assume_tz = None
    if raw.get("assume_tz") is not None:
        try:
            assume_tz = parse_timezone(str(raw["assume_tz"]))
        except ValueError as exc:
            raise doc.error(("assume_tz",), str(exc)) from None
    return ImportMapping(
        columns=columns,
        constants=constants,
        values=values,
        templates=templates,
        ignore=frozenset(str(item) for item in ignore_raw),
        assume_tz=assume_tz,
    )
