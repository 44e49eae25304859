"""Compile a loaded scoring model into ONE SQL query with the evaluator's exact meaning.

The query reads three relations (names configurable):

* ``events``: ``lead_id``, ``type``, ``ts`` (UTC timestamp), optional ``event_id``,
  ``channel``, ``campaign``, and the event properties either as flat columns named
  after the property or as one JSON column ``properties``;
* ``leads``: ``lead_id``, optional ``account_id`` and ``predicted``, the built-in lead
  fields as columns (``email``, ``seniority``, ``country``, ...; ``email_domain`` is
  derived from ``email``) and custom attributes as any other column;
* ``accounts`` (optional): ``account_id``, the built-in account fields and custom
  attributes as any other column;
* ``adjustments`` (optional, when the schema has it): people's score adjustments,
  ``lead_id``, ``group_name``, ``points``, ``at`` and ``revoked_at`` (see
  :mod:`leadgate.engines.compiler.adjustments`);

and returns one row per lead: ``lead_id``, one column per group score (clamped, as
the evaluator reports it), ``grade`` and ``mql``.

Shape (what keeps it fast on tens of millions of events): one filtered scan of the
events (``ts <= as_of`` and only the event types the model mentions), ONE
``GROUP BY lead_id`` aggregation in which every event rule is a ``FILTER``-ed
aggregate (``max_count`` rules keep only their N latest timestamps with a bounded
``max_by(ts, ts, N)``; no window over the events and no join before the
aggregation), then per-lead arithmetic on the leads joined to accounts and to that
aggregate, one window per roll-up over the leads, grades and the MQL definition.

Semantics are the evaluator's, value for value:

* a cell is the Python value the evaluator would see: text, an integer, a float
  (decimals read as floats), a boolean, or missing (NULL, or a column that does not
  exist); JSON properties keep their JSON type per event;
* text comparisons use Python's ``str.casefold`` (reproduced exactly, not ``lower``);
  numbers in text are read as Python's ``float()`` reads them (underscores, Unicode
  digits and spaces included) and only when finite;
* ``regex`` is translated from Python's own parse of the pattern into an RE2 pattern
  with every case-insensitive character spelt out as the exact set Python matches;
  constructs RE2 cannot express (look-arounds, back references, ``\\b``, ...) raise;
* decay ``points * 0.5 ** (age_days / half_life)`` with ``age_days`` computed from
  whole microseconds exactly as ``timedelta.total_seconds() / 86400`` does;
* a missing value matches only ``exists: false``; no comparison ever yields NULL.

Sums are correctly rounded in the evaluator (``math.fsum``); here they use the
engine's compensated summation (``fsum``), so scores agree to the last bits.

The package is split the way the compiler works: ``kinds`` (value kinds and the
input/output shapes), ``dialect`` (what every SQL dialect spells, one subclass per
engine: ``duckdb`` here, Spark in :mod:`leadgate.engines.spark_sql`), ``text`` and
``regex`` (Python's Unicode and regex semantics spelt for SQL), ``parts`` and ``values``
(reading a value and testing it with a predicate), ``adjustments`` (people's score
adjustments as one more input), and ``query`` (conditions dispatched per node type,
event rules, the MQL definition and the query itself).
"""

from __future__ import annotations

from leadgate.engines.compiler.adjustments import ADJUSTMENT_COLUMNS, check_adjustments
from leadgate.engines.compiler.dialect import RUNTIME_UNSUPPORTED, Dialect, dialect_for
from leadgate.engines.compiler.duckdb import DUCKDB, DuckDBDialect
from leadgate.engines.compiler.kinds import (
    ACCOUNT_RESERVED,
    BOOL,
    CHECKPOINT_COLUMN,
    COUNTED_SINCE_COLUMN,
    EVENT_RESERVED,
    EVERY_EVENT_COUNTS,
    FLOAT,
    INT,
    JSON,
    LEAD_RESERVED,
    NULL,
    TEXT,
    TIMESTAMP,
    CompiledQuery,
    InputSchema,
    TableSchema,
)
from leadgate.engines.compiler.query import _Compiler, compile_model
from leadgate.engines.compiler.regex import RegexTranslation, translate_regex
from leadgate.engines.compiler.values import _epoch_us

__all__ = [
    "ACCOUNT_RESERVED",
    "ADJUSTMENT_COLUMNS",
    "BOOL",
    "CHECKPOINT_COLUMN",
    "COUNTED_SINCE_COLUMN",
    "DUCKDB",
    "EVENT_RESERVED",
    "EVERY_EVENT_COUNTS",
    "FLOAT",
    "INT",
    "JSON",
    "LEAD_RESERVED",
    "NULL",
    "RUNTIME_UNSUPPORTED",
    "TEXT",
    "TIMESTAMP",
    "CompiledQuery",
    "Dialect",
    "DuckDBDialect",
    "InputSchema",
    "RegexTranslation",
    "TableSchema",
    "_Compiler",
    "_epoch_us",
    "check_adjustments",
    "compile_model",
    "dialect_for",
    "translate_regex",
]
