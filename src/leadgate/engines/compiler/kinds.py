"""Value kinds, reserved columns, and the shapes of a compiled query's input and output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from leadgate.scoring.nodes import (
    ACCOUNT_FIELDS,
    LEAD_FIELDS,
)

# -- value kinds --------------------------------------------------------------------------

TEXT = "text"
INT = "int"
FLOAT = "float"
BOOL = "bool"
NULL = "null"
JSON = "json"
TIMESTAMP = "timestamp"
SCALAR_KINDS = frozenset({TEXT, INT, FLOAT, BOOL, NULL})

#: Columns of the leads table that are not custom attributes.
LEAD_RESERVED = frozenset(
    {"lead_id", "account_id", "predicted"} | (LEAD_FIELDS - {"id", "email_domain", "attributes"})
)
#: Columns of the accounts table that are not custom attributes.
ACCOUNT_RESERVED = frozenset({"account_id"} | (ACCOUNT_FIELDS - {"id", "attributes"}))
#: Columns of the events table that are not (flat) event properties.
EVENT_RESERVED = frozenset(
    {"lead_id", "type", "ts", "event_id", "channel", "campaign", "properties"}
)
#: Fields the evaluator's records always hold as booleans (missing means false).
BOOL_FIELDS = frozenset({"do_not_email", "do_not_call"})

#: Column of the ``checkpoints`` relation: the scoring instant in microseconds since the epoch.
CHECKPOINT_COLUMN = "as_of_us"
#: Optional column of the ``checkpoints`` relation (``counted_since=True``): only events
#: after this instant (microseconds since the epoch) count at that checkpoint, the
#: moment the lead was recycled to nurture when it sits there at that instant.
COUNTED_SINCE_COLUMN = "since_us"
#: ``since_us`` of a checkpoint where every event counts (BIGINT's least value).
EVERY_EVENT_COUNTS = -(2**63)

_EMAIL_DOMAIN = "__leadgate_email_domain"
_EMAIL_PART = "__leadgate_email_part"


@dataclass(frozen=True)
class TableSchema:
    """Column name -> kind (``text``, ``int``, ``float``, ``bool``, ``null``, ``json``,
    ``timestamp`` or ``unsupported:<type>``).

    ``open_kind`` is the kind assumed for a column that is not listed (used for the
    canonical schema of snapshots); without it an unlisted column is missing.
    """

    columns: Mapping[str, str]
    open_kind: str | None = None

    def kind_of(self, name: str) -> str | None:
        if name in self.columns:
            return self.columns[name]
        return self.open_kind

    def has(self, name: str) -> bool:
        return self.kind_of(name) is not None


@dataclass(frozen=True)
class InputSchema:
    """The columns (and kinds) of the events, leads and accounts relations, and of the
    score adjustments (None: the query reads none)."""

    events: TableSchema
    leads: TableSchema
    accounts: TableSchema | None = None
    adjustments: TableSchema | None = None

    @property
    def properties(self) -> str:
        """``json`` when events carry one ``properties`` column, else ``flat``."""
        return "json" if "properties" in self.events.columns else "flat"

    @classmethod
    def canonical(cls, *, properties: str = "flat") -> InputSchema:
        """The documented layout with every custom value as text (snapshots use it)."""
        events: dict[str, str] = {
            "lead_id": TEXT,
            "type": TEXT,
            "ts": TIMESTAMP,
            "event_id": TEXT,
            "channel": TEXT,
            "campaign": TEXT,
        }
        if properties == "json":
            events["properties"] = JSON
        leads = dict.fromkeys(LEAD_RESERVED, TEXT)
        leads.update({"do_not_email": BOOL, "do_not_call": BOOL, "predicted": FLOAT})
        accounts = dict.fromkeys(ACCOUNT_RESERVED, TEXT)
        accounts.update({"employees": INT, "annual_revenue": FLOAT})
        return cls(
            events=TableSchema(events, open_kind=None if properties == "json" else TEXT),
            leads=TableSchema(leads, open_kind=TEXT),
            accounts=TableSchema(accounts, open_kind=TEXT),
        )


@dataclass(frozen=True)
class CompiledQuery:
    """The SQL for one model, one instant and one input layout."""

    sql: str
    dialect: str
    model_label: str
    as_of: datetime
    score_columns: tuple[str, ...]
    missing_columns: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()  # the only event types the query reads
    event_columns: tuple[str, ...] = ()  # event columns it reads beyond lead_id, type, ts
    checkpoints: bool = False  # one row per (lead_id, as_of_us) of the checkpoints relation

    @property
    def output_columns(self) -> tuple[str, ...]:
        keys = ("lead_id", CHECKPOINT_COLUMN) if self.checkpoints else ("lead_id",)
        return (*keys, *self.score_columns, "grade", "mql")
