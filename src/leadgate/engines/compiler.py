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
"""

from __future__ import annotations

import importlib
import math
import re
import sys
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from leadgate.exceptions import UnsupportedConstructError
from leadgate.scoring.nodes import (
    ACCOUNT_FIELDS,
    LEAD_FIELDS,
    AllOf,
    AnyOf,
    AttributeRule,
    Condition,
    EventOccurred,
    EventRule,
    FieldRef,
    GradeIn,
    NotOf,
    Op,
    Predicate,
    PredictedTest,
    Scope,
    ScoreTest,
    ScoringModel,
    fold,
)

__all__ = [
    "BOOL",
    "CHECKPOINT_COLUMN",
    "FLOAT",
    "INT",
    "JSON",
    "NULL",
    "TEXT",
    "CompiledQuery",
    "Dialect",
    "InputSchema",
    "TableSchema",
    "compile_model",
    "dialect_for",
    "translate_regex",
]

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
    """The columns (and kinds) of the events, leads and accounts relations."""

    events: TableSchema
    leads: TableSchema
    accounts: TableSchema | None = None

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


# -- Unicode tables (Python's own definitions) ------------------------------------------------

_ASCII_SPACE = " \t\n\x0b\x0c\r"  # what float() strips from an ASCII string
_NUM_RE = r"[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?"  # noqa: E501
_MAX_CP = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)


def _code_points() -> Iterable[int]:
    return (cp for cp in range(_MAX_CP + 1) if not _SURROGATES[0] <= cp <= _SURROGATES[1])


_BLOCK = 1024


def _changed_by(method: Callable[[str], str]) -> list[str]:
    """Every character ``method`` (``str.lower``, ``str.casefold``) changes, in order.

    Whole blocks are asked first: a block the method leaves as it is holds no such
    character, so only the few blocks of cased scripts are looked at one by one.
    """
    chars = _all_chars()
    found: list[str] = []
    for start in range(0, len(chars), _BLOCK):
        block = chars[start : start + _BLOCK]
        if method(block) != block:
            found.extend(char for char in block if method(char) != char)
    return found


@lru_cache(maxsize=1)
def _all_chars() -> str:
    """Every code point but the surrogates, in order."""
    low, high = _SURROGATES
    points = array("I", range(low))
    assert points.itemsize == 4, "unsigned int is not 32 bits here"
    points.extend(range(high + 1, _MAX_CP + 1))
    return points.tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be")


@lru_cache(maxsize=1)
def _space_chars() -> str:
    """Every character ``str.isspace`` accepts (also what ``str.strip()`` removes)."""
    # re's \s is Py_UNICODE_ISSPACE, the very test str.isspace() makes
    return "".join(re.findall(r"\s", _all_chars()))


@lru_cache(maxsize=1)
def _decimal_chars() -> str:
    # re's \d is Unicode category Nd, the very set str.isdecimal() accepts
    return "".join(re.findall(r"\d", _all_chars()))


@lru_cache(maxsize=1)
def _number_translation() -> tuple[str, str]:
    """What ``float()`` does to a non-ASCII string first: Unicode spaces -> ' ', digits -> ASCII."""
    source, target = [], []
    for char in _space_chars():
        if ord(char) > 0x7F:
            source.append(char)
            target.append(" ")
    for char in _decimal_chars():
        if ord(char) > 0x7F:
            source.append(char)
            target.append(str(unicodedata.decimal(char)))
    return "".join(source), "".join(target)


@lru_cache(maxsize=1)
def _fold_map() -> tuple[tuple[str, str], ...]:
    """Characters that ``lower`` keeps but ``casefold`` changes, with their fold.

    ``casefold(s) == map(lower(s))`` character by character (checked against the
    engine's ``lower`` for every code point in the tests); U+0130 is replaced first
    because the engine lower-cases it to a plain ``i``.
    """
    return tuple(
        (char, char.casefold()) for char in _changed_by(str.casefold) if char.lower() == char
    )


@lru_cache(maxsize=1)
def _python_fold_map() -> tuple[tuple[str, str], ...]:
    """Every character ``casefold`` changes, with its fold (casefold is per character)."""
    return tuple((char, char.casefold()) for char in _changed_by(str.casefold))


@lru_cache(maxsize=1)
def _python_lower_map() -> tuple[tuple[str, str], ...]:
    """Every character ``lower`` changes, with its lower case (final sigma aside)."""
    return tuple((char, char.lower()) for char in _changed_by(str.lower))


def _mapped(d: Dialect, expr: str, mapping: Sequence[tuple[str, str]]) -> str:
    """``expr`` with each character replaced by its image: one translate for the
    one-character images, then one replace per longer image (images are fixed points)."""
    singles = [(k, v) for k, v in mapping if len(v) == 1]
    out = expr
    if singles:
        out = d.translate(
            out, d.text("".join(k for k, _ in singles)), d.text("".join(v for _, v in singles))
        )
    for key, value in mapping:
        if len(value) > 1:
            out = f"replace({out}, {d.text(key)}, {d.text(value)})"
    return out


# -- dialects -----------------------------------------------------------------------------------


class Dialect:
    """How one engine spells the handful of functions the compiler needs."""

    name = "abstract"

    def ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def text(self, value: str) -> str:
        """A string literal; control and invisible characters are spelt with ``chr()``."""
        if "\x00" in value:
            raise UnsupportedConstructError(f"text {value!r} holds a NUL character")
        parts: list[str] = []
        plain: list[str] = []
        for char in value:
            if _needs_chr(char):
                if plain:
                    parts.append("'" + "".join(plain).replace("'", "''") + "'")
                    plain = []
                parts.append(f"chr({ord(char)})")
            else:
                plain.append(char)
        if plain or not parts:
            parts.append("'" + "".join(plain).replace("'", "''") + "'")
        return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"

    def double(self, value: float) -> str:
        raise NotImplementedError

    def integer(self, value: int) -> str:
        return str(int(value))

    def boolean(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

    # every method below receives SQL expressions and returns one
    def epoch_us(self, ts: str) -> str:
        raise NotImplementedError

    def to_double(self, expr: str) -> str:
        return f"CAST({expr} AS DOUBLE)"

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def try_double(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS DOUBLE)"

    def pow_half(self, exponent: str) -> str:
        return f"pow({self.double(0.5)}, {exponent})"

    def fsum(self, expr: str) -> str:
        raise NotImplementedError

    def fsum_list(self, exprs: Sequence[str]) -> str:
        raise NotImplementedError

    def top_n(self, expr: str, n: int, where: str) -> str:
        """The ``n`` largest values of ``expr`` over the rows where ``where`` holds,
        largest first (duplicates kept)."""
        raise NotImplementedError

    def fsum_map_list(self, list_expr: str, var: str, body: str) -> str:
        raise NotImplementedError

    def list_get(self, list_expr: str, index: int) -> str:
        raise NotImplementedError

    def list_len(self, list_expr: str) -> str:
        raise NotImplementedError

    def regex_search(self, value: str, pattern: str) -> str:
        raise NotImplementedError

    def regex_full(self, value: str, pattern: str) -> str:
        raise NotImplementedError

    def byte_length(self, expr: str) -> str:
        raise NotImplementedError

    def char_length(self, expr: str) -> str:
        return f"length({expr})"

    def contains(self, haystack: str, needle: str) -> str:
        raise NotImplementedError

    def starts_with(self, value: str, prefix: str) -> str:
        raise NotImplementedError

    def ends_with(self, value: str, suffix: str) -> str:
        raise NotImplementedError

    def trim_chars(self, value: str, chars: str) -> str:
        raise NotImplementedError

    def translate(self, value: str, source: str, target: str) -> str:
        return f"translate({value}, {source}, {target})"

    def last_after(self, value: str, sep: str) -> str:
        raise NotImplementedError

    def first_char(self, value: str) -> str:
        return f"substring({value}, 1, 1)"

    def last_char(self, value: str) -> str:
        return f"substring({value}, -1, 1)"

    def isnan(self, expr: str) -> str:
        raise NotImplementedError

    def isfinite(self, expr: str) -> str:
        raise NotImplementedError

    def json_type(self, doc: str, path: str) -> str:
        raise NotImplementedError

    def json_text(self, doc: str, path: str) -> str:
        raise NotImplementedError

    def json_path(self, keys: Sequence[str]) -> str:
        raise NotImplementedError

    def raise_error(self, message: str) -> str:
        raise NotImplementedError

    #: True when :meth:`json_type` also answers ``FLOAT`` (a number with a fraction or
    #: an exponent that the engine's JSON reader does not type as ``DOUBLE``).
    json_float_type = False

    #: True when the engine's own ``lower`` cannot be trusted to be Python's for
    #: non-ASCII text (another Unicode version): case mapping then uses Python's tables.
    python_case_tables = False

    def lower_i_dot(self, expr: str) -> str:
        """The engine's ``lower`` with U+0130 first spelt as Python lower-cases it."""
        return f"lower(replace({expr}, {self.text(chr(0x130))}, {self.text('i' + chr(0x307))}))"

    def float_text(self, expr: str) -> str:
        """Python's ``repr`` of a double (what ``str()`` gives the evaluator)."""
        return self.to_text(expr)

    def regex_pattern(self, pattern: str) -> str:
        """A translated (RE2) pattern as this engine's regex syntax must spell it."""
        return pattern

    def special_double(self, value: float) -> str:
        """NaN or an infinity as a double."""
        return f"CAST('{value!r}' AS DOUBLE)"

    def null_text(self) -> str:
        return "CAST(NULL AS VARCHAR)"


class DuckDBDialect(Dialect):
    name = "duckdb"

    def double(self, value: float) -> str:
        if not math.isfinite(value):
            raise UnsupportedConstructError(f"number {value!r} is not finite")
        return f"CAST('{value!r}' AS DOUBLE)"

    def epoch_us(self, ts: str) -> str:
        return f"epoch_us({ts})"

    def fsum(self, expr: str) -> str:
        return f"fsum({expr})"

    def fsum_list(self, exprs: Sequence[str]) -> str:
        if len(exprs) == 1:
            return exprs[0]
        return f"list_aggregate([{', '.join(exprs)}], 'fsum')"

    def top_n(self, expr: str, n: int, where: str) -> str:
        return f"max_by({expr}, {expr}, {n}) FILTER (WHERE {where})"

    def fsum_map_list(self, list_expr: str, var: str, body: str) -> str:
        return f"list_aggregate(list_transform({list_expr}, lambda {var}: {body}), 'fsum')"

    def list_get(self, list_expr: str, index: int) -> str:
        return f"{list_expr}[{index}]"

    def list_len(self, list_expr: str) -> str:
        return f"len({list_expr})"

    def regex_search(self, value: str, pattern: str) -> str:
        return f"regexp_matches({value}, {self.text(pattern)})"

    def regex_full(self, value: str, pattern: str) -> str:
        return f"regexp_full_match({value}, {self.text(pattern)})"

    def byte_length(self, expr: str) -> str:
        return f"strlen({expr})"

    def contains(self, haystack: str, needle: str) -> str:
        return f"contains({haystack}, {needle})"

    def starts_with(self, value: str, prefix: str) -> str:
        return f"starts_with({value}, {prefix})"

    def ends_with(self, value: str, suffix: str) -> str:
        return f"ends_with({value}, {suffix})"

    def trim_chars(self, value: str, chars: str) -> str:
        return f"trim({value}, {chars})"

    def last_after(self, value: str, sep: str) -> str:
        return f"string_split({value}, {self.text(sep)})[-1]"

    def isnan(self, expr: str) -> str:
        return f"isnan({expr})"

    def isfinite(self, expr: str) -> str:
        return f"isfinite({expr})"

    def json_type(self, doc: str, path: str) -> str:
        return f"json_type({doc}, {self.text(path)})"

    def json_text(self, doc: str, path: str) -> str:
        return f"json_extract_string({doc}, {self.text(path)})"

    def json_path(self, keys: Sequence[str]) -> str:
        for key in keys:
            if any(char in key for char in '"\\') or any(ord(char) < 0x20 for char in key):
                raise UnsupportedConstructError(
                    f"property name {key!r} holds a quote, backslash or control character"
                )
        return "$" + "".join(f'."{key}"' for key in keys)

    def raise_error(self, message: str) -> str:
        return f"error({self.text(message)})"


def _needs_chr(char: str) -> bool:
    cp = ord(char)
    if cp < 0x20 or 0x7F <= cp <= 0x9F:
        return True
    if cp < 0x80:
        return False
    category = unicodedata.category(char)
    return char.isspace() or category in {"Cf", "Cc", "Co", "Cn", "Zl", "Zp", "Mn", "Me", "Mc"}


DUCKDB = DuckDBDialect()
_DIALECTS: dict[str, Dialect] = {"duckdb": DUCKDB}
_PLANNED = {"postgres": "PostgreSQL", "postgresql": "PostgreSQL"}

#: Marker at the start of an error raised from inside a running query.
RUNTIME_UNSUPPORTED = "leadgate-unsupported: "


def dialect_for(name: str) -> Dialect:
    """The dialect called ``name``; planned engines raise a clear "not yet available"."""
    key = name.strip().lower()
    if key == "spark" and key not in _DIALECTS:
        from leadgate.engines.spark_sql import SparkDialect

        _DIALECTS[key] = SparkDialect()
    if key in _DIALECTS:
        return _DIALECTS[key]
    if key in _PLANNED:
        raise UnsupportedConstructError(
            f"the {_PLANNED[key]} engine is not yet available; use --engine duckdb"
        )
    raise UnsupportedConstructError(f"unknown engine {name!r}; available: duckdb, spark")


# -- regular expressions: Python's parse -> an RE2 pattern with the same matches ---------------

# Python's own regex parser and case tables (3.11+), exactly what re.compile uses.
_sre: Any = importlib.import_module("_sre")
_sre_c: Any = importlib.import_module("re._constants")
_sre_parse: Any = importlib.import_module("re._parser")
_casefix: Any = importlib.import_module("re._casefix")

Ranges = tuple[tuple[int, int], ...]


def _to_ranges(points: Iterable[int]) -> Ranges:
    out: list[tuple[int, int]] = []
    for cp in sorted(set(points)):
        if out and out[-1][1] + 1 == cp:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return tuple(out)


def _complement(ranges: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    start = 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX_CP:
        out.append((start, _MAX_CP))
    return tuple(out)


def _without_surrogates(ranges: Ranges) -> Ranges:
    s_lo, s_hi = _SURROGATES
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if hi < s_lo or lo > s_hi:
            out.append((lo, hi))
            continue
        if lo < s_lo:
            out.append((lo, s_lo - 1))
        if hi > s_hi:
            out.append((s_hi + 1, hi))
    return tuple(out)


def _contains(ranges: Ranges, cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


@lru_cache(maxsize=1)
def _case_orbits() -> dict[int, frozenset[int]]:
    """Characters related by any case mapping Python's ``re`` may use, grouped."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        parent[x] = root
        return root

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    extra: Mapping[int, tuple[int, ...]] = getattr(_casefix, "_EXTRA_CASES", {}) or {}
    for cp in _code_points():
        if not _sre.unicode_iscased(cp):
            continue
        char = chr(cp)
        parent.setdefault(cp, cp)
        for mapped in (char.lower(), char.upper(), char.casefold(), char.title()):
            if len(mapped) == 1 and mapped != char:
                union(cp, ord(mapped))
        lowered = _sre.unicode_tolower(cp)
        if lowered != cp:
            union(cp, lowered)
        for other in extra.get(lowered, ()):
            union(cp, other)
    groups: dict[int, set[int]] = {}
    for cp in list(parent):
        groups.setdefault(find(cp), set()).add(cp)
    orbits: dict[int, frozenset[int]] = {}
    for members in groups.values():
        frozen = frozenset(members)
        for cp in members:
            orbits[cp] = frozen
    return orbits


_CATEGORY_TEXT = {
    _sre_c.CATEGORY_DIGIT: r"\d",
    _sre_c.CATEGORY_NOT_DIGIT: r"\D",
    _sre_c.CATEGORY_SPACE: r"\s",
    _sre_c.CATEGORY_NOT_SPACE: r"\S",
    _sre_c.CATEGORY_WORD: r"\w",
    _sre_c.CATEGORY_NOT_WORD: r"\W",
}


@lru_cache(maxsize=8)
def _category_points(category: str) -> frozenset[int]:
    tests: dict[str, Callable[[str], bool]] = {
        r"\d": str.isdecimal,
        r"\s": str.isspace,
        r"\w": lambda c: c.isalnum() or c == "_",
    }
    positive = category.lower()
    points = frozenset(cp for cp in _code_points() if tests[positive](chr(cp)))
    if category == positive:
        return points
    return frozenset(cp for cp in _code_points() if cp not in points)


@lru_cache(maxsize=512)
def _char_class(python_class: str, ignorecase: bool, candidates: frozenset[int]) -> Ranges:
    """The exact set of characters the Python class matches, found by asking Python."""
    compiled = re.compile(python_class, re.IGNORECASE if ignorecase else 0)
    pool = set(candidates)
    if ignorecase:
        orbits = _case_orbits()
        for cp in candidates:
            orbit = orbits.get(cp)
            if orbit is not None:
                pool |= orbit
    matched = [cp for cp in pool if compiled.fullmatch(chr(cp))]
    return _without_surrogates(_to_ranges(matched))


@dataclass
class RegexTranslation:
    pattern: str
    sigma_sensitive: bool = False


class _RegexTranslator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sigma_sensitive = False

    def fail(self, what: str) -> UnsupportedConstructError:
        return UnsupportedConstructError(
            f"regex {self.source!r}: {what} cannot be expressed exactly in the engine's "
            "regular expressions (RE2)"
        )

    def translate(self) -> RegexTranslation:
        try:
            parsed = _sre_parse.parse(self.source, re.IGNORECASE)
        except re.error as exc:  # pragma: no cover - the loader already compiled it
            raise self.fail(f"invalid pattern ({exc})") from None
        flags = parsed.state.flags
        if flags & re.ASCII:
            raise self.fail("the ASCII flag")
        body = self.sequence(list(parsed), flags, tail=True)
        return RegexTranslation(body, self.sigma_sensitive)

    def sequence(self, items: list[Any], flags: int, *, tail: bool) -> str:
        parts = []
        for index, (op, av) in enumerate(items):
            parts.append(self.item(op, av, flags, tail=tail and index == len(items) - 1))
        return "".join(parts)

    def item(self, op: Any, av: Any, flags: int, *, tail: bool) -> str:
        c = _sre_c
        ignorecase = bool(flags & re.IGNORECASE)
        if op is c.LITERAL:
            return self.charset([(c.LITERAL, av)], negate=False, ignorecase=ignorecase)
        if op is c.NOT_LITERAL:
            return self.charset([(c.LITERAL, av)], negate=True, ignorecase=ignorecase)
        if op is c.IN:
            items = list(av)
            negate = bool(items) and items[0][0] is c.NEGATE
            if negate:
                items = items[1:]
            return self.charset(items, negate=negate, ignorecase=ignorecase)
        if op is c.CATEGORY:
            return self.charset([(c.CATEGORY, av)], negate=False, ignorecase=ignorecase)
        if op is c.ANY:
            if flags & re.DOTALL:
                return r"[\x{0}-\x{10FFFF}]"
            return self.emit_set(_without_surrogates(_complement(((10, 10),))))
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, high, sub = av
            inner = self.sequence(list(sub), flags, tail=False)
            if low > 1000 or (high is not c.MAXREPEAT and high > 1000):
                raise self.fail(f"a repetition count above 1000 ({{{low},{high}}})")
            if high is c.MAXREPEAT:
                quant = "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"
            elif (low, high) == (0, 1):
                quant = "?"
            else:
                quant = f"{{{low}}}" if low == high else f"{{{low},{high}}}"
            return f"(?:{inner}){quant}"
        if op is c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if add_flags & re.ASCII:
                raise self.fail("the ASCII flag")
            inner_flags = (flags | add_flags) & ~del_flags
            return "(?:" + self.sequence(list(sub), inner_flags, tail=tail) + ")"
        if op is c.BRANCH:
            _, alternatives = av
            return (
                "(?:"
                + "|".join(self.sequence(list(alt), flags, tail=tail) for alt in alternatives)
                + ")"
            )
        if op is c.AT:
            multiline = bool(flags & re.MULTILINE)
            if av is c.AT_BEGINNING:
                return "(?m:^)" if multiline else r"\A"
            if av is c.AT_BEGINNING_STRING:
                return r"\A"
            if av is c.AT_END_STRING:
                return r"\z"
            if av is c.AT_END:
                if multiline:
                    return "(?m:$)"
                if tail:
                    return r"(?:\x{a}?\z)"
                raise self.fail("'$' followed by more of the pattern")
            raise self.fail(r"word boundaries (\b, \B)")
        names = {
            c.GROUPREF: "back references",
            c.GROUPREF_EXISTS: "conditional groups",
            c.ASSERT: "look-ahead/look-behind",
            c.ASSERT_NOT: "negative look-ahead/look-behind",
        }
        for name in ("POSSESSIVE_REPEAT", "ATOMIC_GROUP"):
            if hasattr(c, name) and op is getattr(c, name):
                raise self.fail("possessive quantifiers and atomic groups")
        raise self.fail(names.get(op, f"the construct {op}"))

    def charset(self, items: list[Any], *, negate: bool, ignorecase: bool) -> str:
        c = _sre_c
        text: list[str] = []
        candidates: set[int] = set()
        for op, av in items:
            if op is c.LITERAL:
                text.append(_py_class_char(av))
                candidates.add(av)
            elif op is c.RANGE:
                low, high = av
                text.append(f"{_py_class_char(low)}-{_py_class_char(high)}")
                candidates.update(range(low, high + 1))
            elif op is c.CATEGORY and av in _CATEGORY_TEXT:
                category = _CATEGORY_TEXT[av]
                text.append(category)
                candidates |= _category_points(category)
            else:
                raise self.fail(f"the class item {op} {av}")
        positive = _char_class("[" + "".join(text) + "]", ignorecase, frozenset(candidates))
        # Outside the candidates (and their case orbits) nothing matches the positive class,
        # so the negated class is exactly the complement.
        chosen = _without_surrogates(_complement(positive)) if negate else positive
        return self.emit_set(chosen)

    def emit_set(self, ranges: Ranges) -> str:
        if _contains(ranges, 0x3C3) != _contains(ranges, 0x3C2):
            self.sigma_sensitive = True
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            return _re2_char(ranges[0][0], in_class=False)
        if not ranges:
            return r"[^\x{0}-\x{10FFFF}]"
        body = "".join(
            _re2_char(lo, in_class=True)
            if lo == hi
            else f"{_re2_char(lo, in_class=True)}-{_re2_char(hi, in_class=True)}"
            for lo, hi in ranges
        )
        return f"[{body}]"


def _py_class_char(cp: int) -> str:
    return re.escape(chr(cp)) if chr(cp) not in "\\]^-[" else "\\" + chr(cp)


def _re2_char(cp: int, *, in_class: bool) -> str:
    char = chr(cp)
    if char.isascii() and char.isalnum():
        return char
    return f"\\x{{{cp:x}}}"


@lru_cache(maxsize=256)
def translate_regex(pattern: str) -> RegexTranslation:
    """Python ``re.search(pattern, value, re.IGNORECASE)`` as an RE2 pattern, or raise."""
    return _RegexTranslator(pattern).translate()


# -- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """A field as SQL sees it. ``sql`` may be NULL (missing) except for ``null`` values.

    For ``json``, ``sql`` is the extracted text and ``type_sql`` the JSON type name.
    ``fold_sql``/``num_sql`` are the casefold and parsed number of text (when derived
    once in a projection); ``None`` means "compute inline".
    """

    kind: str
    sql: str
    label: str
    type_sql: str = ""
    fold_sql: str | None = None
    num_sql: str | None = None
    base: str | None = None  # events-table expression: derived values go to the scan
    nullable: bool = True
    sigma_lowered: bool = False  # lead.email_domain: Python's lower() applied


def _member_doubles(member: str) -> tuple[list[float], bool]:
    """Floats ``v`` with ``fold(v) == member`` (and whether NaN qualifies)."""
    if member == "nan":
        return [], True
    if member in ("inf", "-inf"):
        return [float(member)], False
    if re.fullmatch(r"-?[0-9]+", member):
        number = int(member)
        if str(number) != member:
            return [], False
        try:
            as_float = float(number)
        except OverflowError:
            return [], False
        return ([as_float] if int(as_float) == number else []), False
    try:
        as_float = float(member)
    except ValueError:
        return [], False
    if math.isfinite(as_float) and not as_float.is_integer() and repr(as_float) == member:
        return [as_float], False
    return [], False


def _member_ints(member: str) -> list[str]:
    if re.fullmatch(r"-?[0-9]+", member) and str(int(member)) == member:
        return [member]
    return []


# -- the compiler -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _LeadLeaf:
    """An MQL predicate on lead/account fields, already compiled."""

    sql: str


class _Context:
    """Names the rule or MQL path a construct belongs to, for error messages."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, message: str) -> UnsupportedConstructError:
        return UnsupportedConstructError(f"{self.where}: {message}")


@dataclass
class _Stage:
    """Derived columns of one projection (the events scan)."""

    columns: dict[str, str] = field(default_factory=dict)  # expression -> alias
    prefix: str = "x"

    def add(self, expr: str) -> str:
        alias = self.columns.get(expr)
        if alias is None:
            alias = f"{self.prefix}{len(self.columns)}"
            self.columns[expr] = alias
        return alias


class _Compiler:
    def __init__(
        self,
        model: ScoringModel,
        schema: InputSchema,
        dialect: Dialect,
        as_of: datetime,
        tables: Mapping[str, str],
        checkpoints: bool = False,
    ) -> None:
        self.model = model
        self.schema = schema
        self.d = dialect
        self.as_of = as_of
        self.checkpoints = checkpoints
        # the scoring instant: one literal, or each row's checkpoint
        self.as_of_us = (
            f"{self.q('cp')}.{self.q(CHECKPOINT_COLUMN)}" if checkpoints else str(_epoch_us(as_of))
        )
        self.tables = tables
        self.ev = _Stage(prefix="v")
        self.agg: list[tuple[str, str]] = []  # (expression, alias)
        self.event_types: set[str] = set()
        self.missing: set[str] = set()
        self.event_columns: set[str] = set()  # event columns beyond lead_id, type, ts
        self.email_domain_sql: str | None = None  # derived once per lead when used

    # -- helpers ---------------------------------------------------------------------------
    def q(self, name: str) -> str:
        return self.d.ident(name)

    def num(self, value: float) -> str:
        return self.d.double(float(value))

    def add_agg(self, expr: str) -> str:
        alias = f"a{len(self.agg)}"
        self.agg.append((expr, alias))
        return f"{self.q('g')}.{self.q(alias)}"

    def age_of(self, ts_us: str) -> str:
        diff = self.d.to_double(f"{self.as_of_us} - {ts_us}")
        return f"({diff} / {self.num(1_000_000.0)} / {self.num(86_400.0)})"

    # -- text helpers (exact Python semantics) ---------------------------------------------
    def casefold(self, expr: str) -> str:
        """Python's ``str.casefold``: ``lower`` for ASCII, exact mapping otherwise."""
        d = self.d
        # NULL takes the cheap branch too (lower(NULL) is NULL)
        ascii_test = f"coalesce({d.byte_length(expr)} = {d.char_length(expr)}, TRUE)"
        if d.python_case_tables:
            folded = _mapped(d, expr, _python_fold_map())
        else:
            folded = _mapped(d, d.lower_i_dot(expr), _fold_map())
        return f"CASE WHEN {ascii_test} THEN lower({expr}) ELSE {folded} END"

    def parse_number(self, expr: str) -> str:
        """Python's ``float(text)`` when finite, else NULL."""
        d = self.d
        space = d.text(_ASCII_SPACE)

        def parse(text: str) -> str:
            value = d.try_double(f"replace({text}, '_', '')")
            return (
                f"CASE WHEN {d.regex_full(text, _NUM_RE)} THEN "
                f"CASE WHEN {d.isfinite(value)} THEN {value} END END"
            )

        num_from, num_to = _number_translation()
        translated = d.translate(expr, d.text(num_from), d.text(num_to))
        return (
            f"CASE WHEN coalesce({d.byte_length(expr)} = {d.char_length(expr)}, TRUE) "
            f"THEN {parse(d.trim_chars(expr, space))} "
            f"ELSE {parse(d.trim_chars(translated, space))} END"
        )

    def email_domain(self, email: str, part: str) -> str:
        """``records.email_domain``: ``rsplit('@')[1].strip().lower()`` or NULL.

        ``part`` names a column holding ``last_after(email, '@')``, derived once.
        """
        d = self.d
        ascii_spaces = "".join(c for c in _space_chars() if c.isascii())
        # ASCII whitespace sorts at or below ' ': most domains need no trim at all
        edge = d.text(" ")
        ascii_stripped = (
            f"CASE WHEN {d.first_char(part)} <= {edge} OR {d.last_char(part)} <= {edge} "
            f"THEN {d.trim_chars(part, d.text(ascii_spaces))} ELSE {part} END"
        )
        other_stripped = d.trim_chars(part, d.text(_space_chars()))
        if d.python_case_tables:
            other = _mapped(d, other_stripped, _python_lower_map())
        else:
            other = d.lower_i_dot(other_stripped)
        lowered = (
            f"CASE WHEN {d.byte_length(part)} = {d.char_length(part)} "
            f"THEN lower({ascii_stripped}) ELSE {other} END"
        )
        return f"CASE WHEN {d.contains(email, d.text('@'))} THEN nullif({lowered}, '') END"

    # -- field resolution --------------------------------------------------------------------
    def event_value(self, ref: FieldRef, ctx: _Context) -> _Value:
        events = self.schema.events
        label = ref.dotted
        if ref.key is None:
            column = ref.name
            return self.event_column(column, label, ctx)
        if self.schema.properties == "json":
            return self.json_value(ref.key)
        if ref.key in EVENT_RESERVED:
            raise ctx.fail(
                f"{label}: with flat property columns the column {ref.key!r} is an event "
                "field, not a property; use a JSON 'properties' column"
            )
        if not events.has(ref.key):
            self.missing.add(f"events.{ref.key}")
            return _Value(NULL, "NULL", label)
        return self.event_column(ref.key, label, ctx)

    def event_column(self, column: str, label: str, ctx: _Context) -> _Value:
        kind = self.schema.events.kind_of(column)
        self.event_columns.add(column)
        if kind is None:
            self.missing.add(f"events.{column}")
            return _Value(NULL, "NULL", label)
        self.check_kind(kind, label, ctx)
        base = f"{self.q('e')}.{self.q(column)}"
        if kind == FLOAT:
            base = self.d.to_double(base)
        return _Value(kind, self.q(self.ev.add(base)), label, base=base)

    def json_value(self, key: str) -> _Value:
        self.event_columns.add("properties")
        d = self.d
        doc = f"{self.q('e')}.{self.q('properties')}"
        nested = d.json_path(key.split("."))
        if "." in key:
            flat = d.json_path([key])
            type_expr = f"coalesce({d.json_type(doc, flat)}, {d.json_type(doc, nested)})"
            text_expr = (
                f"CASE WHEN {d.json_type(doc, flat)} IS NOT NULL THEN {d.json_text(doc, flat)} "
                f"ELSE {d.json_text(doc, nested)} END"
            )
        else:
            type_expr = d.json_type(doc, nested)
            text_expr = d.json_text(doc, nested)
        type_alias = self.q(self.ev.add(type_expr))
        text_alias = self.q(self.ev.add(text_expr))
        return _Value(JSON, text_alias, f"properties.{key}", type_sql=type_alias, base=text_expr)

    def record_value(self, ref: FieldRef, ctx: _Context) -> _Value:
        label = ref.dotted
        if ref.scope is Scope.LEAD:
            table, alias, reserved = self.schema.leads, "l", LEAD_RESERVED
            if ref.key is None:
                if ref.name == "email_domain":
                    email = self.record_value(FieldRef(Scope.LEAD, "email"), ctx)
                    if email.kind == NULL:
                        return _Value(NULL, "NULL", label)
                    if email.kind != TEXT:
                        raise ctx.fail(f"lead.email must be a text column, not {email.kind}")
                    self.email_domain_sql = self.email_domain(self.q("email"), self.q(_EMAIL_PART))
                    sql = f"{self.q('l')}.{self.q(_EMAIL_DOMAIN)}"
                    return _Value(TEXT, sql, label, sigma_lowered=True)
                column = "lead_id" if ref.name == "id" else ref.name
            else:
                column = ref.key
        else:
            if self.schema.accounts is None:
                return _Value(NULL, "NULL", label)
            table, alias, reserved = self.schema.accounts, "a", ACCOUNT_RESERVED
            column = "account_id" if ref.key is None and ref.name == "id" else (ref.key or ref.name)
        if ref.key is not None and ref.key in reserved:
            # a custom attribute with a built-in column's name never exists
            return _Value(NULL, "NULL", label)
        kind = table.kind_of(column)
        if ref.scope is Scope.LEAD and ref.key is None and ref.name in BOOL_FIELDS:
            if kind is None or kind == NULL:
                return _Value(BOOL, "FALSE", label, nullable=False)
            if kind != BOOL:
                raise ctx.fail(f"{label} must be a boolean column, not {kind}")
            sql = f"coalesce({self.q(alias)}.{self.q(column)}, FALSE)"
            return _Value(BOOL, sql, label, nullable=False)
        if kind is None:
            self.missing.add(f"{'leads' if alias == 'l' else 'accounts'}.{column}")
            return _Value(NULL, "NULL", label)
        self.check_kind(kind, label, ctx)
        sql = f"{self.q(alias)}.{self.q(column)}"
        if kind == FLOAT:
            sql = self.d.to_double(sql)
        return _Value(kind, sql, label)

    def check_kind(self, kind: str, label: str, ctx: _Context) -> None:
        if kind not in SCALAR_KINDS:
            shown = kind.removeprefix("unsupported:")
            raise ctx.fail(
                f"{label} is a {shown} column; the {self.d.name} engine compares only text, "
                "numbers and booleans (no lists, structs, dates or timestamps)"
            )

    # -- predicates ---------------------------------------------------------------------------
    def predicate(self, pred: Predicate, value: _Value, ctx: _Context) -> str:
        try:
            return self._predicate(pred, value, ctx)
        except UnsupportedConstructError as exc:
            if str(exc).startswith(ctx.where):
                raise
            raise ctx.fail(f"{pred.field.dotted}: {exc}") from None

    def _predicate(self, pred: Predicate, value: _Value, ctx: _Context) -> str:
        op = pred.op
        if value.kind == NULL:
            return self.d.boolean(op is Op.EXISTS and pred.operand is False)
        if op is Op.EXISTS:
            if value.kind == JSON:
                missing = f"({value.type_sql} IS NULL OR {value.type_sql} = 'NULL')"
            else:
                missing = f"({value.sql} IS NULL)"
            return missing if pred.operand is False else f"(NOT {missing})"
        if value.kind == JSON:
            return self.json_predicate(pred, value, ctx)
        body = self.scalar_test(pred, value.kind, value, ctx)
        if not value.nullable:
            return f"({body})"
        return f"({value.sql} IS NOT NULL AND {body})"

    def json_predicate(self, pred: Predicate, value: _Value, ctx: _Context) -> str:
        d = self.d
        t, s = value.type_sql, value.sql
        text_v = _Value(TEXT, s, value.label, base=value.base)
        int_v = _Value(INT, s, value.label, num_sql=d.to_double(s))
        float_v = _Value(FLOAT, d.to_double(s), value.label)
        bool_v = _Value(BOOL, f"({s} = 'true')", value.label)
        message = (
            f"{RUNTIME_UNSUPPORTED}{ctx.where}: {value.label} holds a list or object; "
            f"the {d.name} engine compares only text, numbers and booleans"
        )
        int_test = self.scalar_test(pred, INT, int_v, ctx)
        float_test = self.scalar_test(pred, FLOAT, float_v, ctx)
        return (
            f"(CASE WHEN {t} IS NULL OR {t} = 'NULL' THEN FALSE "
            f"WHEN {t} = 'VARCHAR' THEN {self.scalar_test(pred, TEXT, text_v, ctx)} "
            f"WHEN {t} IN ('BIGINT', 'UBIGINT') THEN {int_test} "
            f"WHEN {t} = 'DOUBLE' THEN CASE WHEN {d.regex_full(s, '-?[0-9]+')} THEN {int_test} "
            f"ELSE {float_test} END "
            + (f"WHEN {t} = 'FLOAT' THEN {float_test} " if d.json_float_type else "")
            + f"WHEN {t} = 'BOOLEAN' THEN {self.scalar_test(pred, BOOL, bool_v, ctx)} "
            f"ELSE {d.raise_error(message)} END)"
        )

    def fold_of(self, value: _Value) -> str:
        if value.fold_sql is not None:
            return value.fold_sql
        if value.base is not None:  # derived once in the events scan, shared by rules
            return self.q(self.ev.add(self.casefold(value.base)))
        return self.casefold(value.sql)

    def num_of(self, value: _Value) -> str:
        if value.num_sql is not None:
            return value.num_sql
        if value.base is not None:
            return self.q(self.ev.add(self.parse_number(value.base)))
        return self.parse_number(value.sql)

    def scalar_test(self, pred: Predicate, kind: str, value: _Value, ctx: _Context) -> str:
        """The predicate on a non-NULL value of ``kind``; never NULL itself."""
        d = self.d
        op, operand = pred.op, pred.operand
        v = value.sql
        if op in (Op.EQ, Op.NE):
            assert not isinstance(operand, tuple)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                target = self.num(float(operand))
                if kind == TEXT:
                    test = f"coalesce({self.num_of(value)} = {target}, FALSE)"
                elif kind == INT:
                    test = f"({value.num_sql or d.to_double(v)} = {target})"
                elif kind == FLOAT:
                    test = f"({v} = {target})"
                else:
                    test = "FALSE"
            else:
                test = self.fold_in(kind, value, (fold(operand),))
            return test if op is Op.EQ else f"(NOT {test})"
        if op in (Op.IN, Op.IN_LIST, Op.NOT_IN, Op.NOT_IN_LIST):
            test = self.fold_in(kind, value, tuple(sorted(pred.members)))
            return test if op in (Op.IN, Op.IN_LIST) else f"(NOT {test})"
        if op in (Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN):
            if kind == BOOL:
                return "FALSE"
            if kind == TEXT:
                number = self.num_of(value)
            elif kind == INT:
                number = value.num_sql or d.to_double(v)
            else:
                number = v
            if op is Op.BETWEEN:
                assert isinstance(operand, tuple)
                low, high = operand
                compare = f"{number} BETWEEN {self.num(float(low))} AND {self.num(float(high))}"
            else:
                assert isinstance(operand, (int, float))
                symbol = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}[op]
                compare = f"{number} {symbol} {self.num(float(operand))}"
            if kind == TEXT:
                return f"coalesce({compare}, FALSE)"
            if kind == FLOAT:
                return f"(NOT {d.isnan(v)} AND {compare})"
            return f"({compare})"
        if op in (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH):
            needle = d.text(str(operand).casefold())
            if kind == TEXT:
                hay = self.fold_of(value)
            elif kind == BOOL:
                hay = f"(CASE WHEN {v} THEN 'true' ELSE 'false' END)"
            elif kind == FLOAT:  # str() of a float (repr) is already case-folded
                hay = d.float_text(v)
            else:
                hay = d.to_text(v)
            fn = {Op.CONTAINS: d.contains, Op.STARTS_WITH: d.starts_with}.get(op, d.ends_with)
            return f"{fn(hay, needle)}"
        if op is Op.REGEX:
            translation = translate_regex(str(operand))
            if translation.sigma_sensitive and value.sigma_lowered:
                raise ctx.fail(
                    f"{value.label}: a case-sensitive regex on Greek sigma cannot be matched "
                    "exactly on the derived email domain"
                )
            if kind == TEXT:
                subject = v
            elif kind == BOOL:
                subject = f"(CASE WHEN {v} THEN 'True' ELSE 'False' END)"
            elif kind == FLOAT:
                subject = d.float_text(v)
            else:
                subject = d.to_text(v)
            return d.regex_search(subject, d.regex_pattern(translation.pattern))
        raise ctx.fail(f"operator {op.value} is not supported")

    def fold_in(self, kind: str, value: _Value, members: Sequence[str]) -> str:
        """``fold(value) in members`` for a non-NULL value."""
        d = self.d
        v = value.sql
        if kind == TEXT:
            folded = self.fold_of(value)
            return _in_list(folded, [d.text(m) for m in members])
        if kind == INT:
            ints = [m for member in members for m in _member_ints(member)]
            return _in_list(d.to_text(v), [d.text(m) for m in ints])
        if kind == BOOL:
            truths = {m for m in members if m in ("true", "false")}
            if truths == {"true", "false"}:
                return "TRUE"
            if not truths:
                return "FALSE"
            return f"({v})" if truths == {"true"} else f"(NOT {v})"
        doubles: list[float] = []
        nan = False
        for member in members:
            found, is_nan = _member_doubles(member)
            doubles.extend(found)
            nan = nan or is_nan
        parts = []
        if doubles:
            literals = [
                self.num(x) if math.isfinite(x) else d.special_double(x)
                for x in sorted(set(doubles))
            ]
            parts.append(f"(NOT {d.isnan(v)} AND {_in_list(v, literals)})")
        if nan:
            parts.append(d.isnan(v))
        return "(" + " OR ".join(parts) + ")" if parts else "FALSE"

    # -- conditions ---------------------------------------------------------------------------
    def condition(
        self,
        cond: Condition,
        ctx: _Context,
        *,
        event: bool,
        mql: Callable[[Condition | _LeadLeaf, _Context], str] | None = None,
    ) -> str:
        if isinstance(cond, Predicate):
            if event:
                return self.predicate(cond, self.event_value(cond.field, ctx), ctx)
            sql = self.predicate(cond, self.record_value(cond.field, ctx), ctx)
            if mql is not None:  # an MQL leaf on lead/account fields: kept per lead
                return mql(_LeadLeaf(sql), ctx)
            return sql
        if isinstance(cond, AllOf):
            if not cond.children:
                return "TRUE"
            return (
                "("
                + " AND ".join(
                    self.condition(child, _Context(f"{ctx.where}.all[{i}]"), event=event, mql=mql)
                    for i, child in enumerate(cond.children)
                )
                + ")"
            )
        if isinstance(cond, AnyOf):
            if not cond.children:
                return "FALSE"
            return (
                "("
                + " OR ".join(
                    self.condition(child, _Context(f"{ctx.where}.any[{i}]"), event=event, mql=mql)
                    for i, child in enumerate(cond.children)
                )
                + ")"
            )
        if isinstance(cond, NotOf):
            inner = self.condition(cond.child, _Context(f"{ctx.where}.not"), event=event, mql=mql)
            return f"(NOT {inner})"
        if mql is None:
            raise ctx.fail(f"{type(cond).__name__} is only valid in an MQL definition")
        return mql(cond, ctx)

    # -- event rules and event tests ------------------------------------------------------------
    def event_match(
        self,
        types: Sequence[str],
        within: float | None,
        where: Condition | None,
        ctx: _Context,
    ) -> str:
        self.event_types.update(types)
        parts = [_in_list(self.q("type"), [self.d.text(t) for t in types])]
        if within is not None:
            parts.append(f"{self.q('age')} <= {self.num(within)}")
        if where is not None:
            parts.append(self.condition(where, _Context(f"{ctx.where}.where"), event=True))
        return " AND ".join(parts)

    def event_rule(self, rule: EventRule, ctx: _Context) -> str:
        """Registers the aggregate; returns the per-lead contribution expression."""
        match = self.event_match(rule.event_types, rule.within_days, rule.where, ctx)
        points = self.num(rule.points)
        if rule.half_life_days is None:
            count = self.add_agg(f"count(*) FILTER (WHERE {match})")
            count = f"coalesce({count}, 0)"
            if rule.max_count is not None:
                count = f"least({count}, {rule.max_count})"
            return f"({self.d.to_double(count)} * {points})"
        half_life = self.num(rule.half_life_days)
        if rule.max_count is None:
            age = self.q("age")
            share = f"{points} * {self.d.pow_half(f'{age} / {half_life}')}"
            total = self.add_agg(f"{self.d.fsum(share)} FILTER (WHERE {match})")
            return f"coalesce({total}, {self.num(0.0)})"
        latest = self.add_agg(self.d.top_n(self.q("ts_us"), rule.max_count, match))
        age = self.age_of("t")
        share = f"{points} * {self.d.pow_half(f'{age} / {half_life}')}"
        return f"coalesce({self.d.fsum_map_list(latest, 't', share)}, {self.num(0.0)})"

    def event_test(self, cond: EventOccurred, ctx: _Context) -> str:
        match = self.event_match(cond.types, cond.within_days, cond.where, ctx)
        if not cond.after:
            count = self.add_agg(f"count(*) FILTER (WHERE {match})")
            return f"(coalesce({count}, 0) >= {cond.min_count})"
        self.event_types.update(cond.after)
        after = _in_list(self.q("type"), [self.d.text(t) for t in cond.after])
        start = self.add_agg(f"min({self.q('ts_us')}) FILTER (WHERE {after})")
        latest = self.add_agg(self.d.top_n(self.q("ts_us"), cond.min_count, match))
        nth = self.d.list_get(latest, cond.min_count)
        return (
            f"coalesce({start} IS NOT NULL AND {self.d.list_len(latest)} >= {cond.min_count} "
            f"AND {nth} > {start}, FALSE)"
        )

    # -- the query ----------------------------------------------------------------------------
    def compile(self) -> CompiledQuery:
        model, d, q = self.model, self.d, self.q
        reserved_out = {"lead_id", "grade", "mql"}
        for group in model.groups:
            if group.name in reserved_out:
                raise UnsupportedConstructError(
                    f"group {group.name!r}: the output already has a column of that name"
                )
        # rule groups: contribution expressions per lead
        lead_cols: list[tuple[str, str]] = []  # (expression, alias) in the per-lead stage
        group_totals: dict[str, str] = {}
        for group in model.rule_groups:
            parts = []
            for rule in group.rules:
                ctx = _Context(f"rule {rule.id!r} (group {group.name})")
                if isinstance(rule, AttributeRule):
                    cond = self.condition(rule.when, _Context(f"{ctx.where} when"), event=False)
                    expr = f"CASE WHEN {cond} THEN {self.num(rule.points)} ELSE {self.num(0.0)} END"
                else:
                    expr = self.event_rule(rule, ctx)
                alias = f"r{len(lead_cols)}"
                lead_cols.append((expr, alias))
                parts.append(q(alias))
            group_totals[group.name] = d.fsum_list(parts)
        # the MQL definition: leaves that need leads/accounts/events go to the per-lead stage
        mql_sql = "FALSE"
        if model.mql is not None:
            mql_sql = self.condition(
                model.mql,
                _Context("mql"),
                event=False,
                mql=lambda cond, ctx: self.mql_leaf(cond, ctx, lead_cols),
            )
        # lead-level predicates in the MQL were inlined by condition(); keep them per lead
        ctes: list[str] = []
        ctes.append(self.events_cte())
        ctes.append(self.agg_cte())
        ctes.append(self.lead_cte(lead_cols))
        # group scores (clamped), then roll-ups, grade, MQL
        score_cols = []
        for group in model.rule_groups:
            total = self.clamp(group_totals[group.name], group.min_points, group.max_points)
            score_cols.append(f"{total} AS {q('s_' + group.name)}")
        ctes.append(f"{q('scored')} AS (SELECT *, {', '.join(score_cols)} FROM {q('per_lead')})")
        rollups = []
        for group in model.rollup_groups:
            source = q("s_" + group.source)
            keys = q("account_key") + (f", {q(CHECKPOINT_COLUMN)}" if self.checkpoints else "")
            window = f"OVER (PARTITION BY {keys})"
            if group.how == "max":
                rolled = f"max({source}) {window}"
            elif group.how == "avg":
                rolled = f"{d.fsum(source)} {window} / count(*) {window}"
            else:
                rolled = f"{d.fsum(source)} {window}"
            expr = f"CASE WHEN {q('account_key')} IS NULL THEN {source} ELSE {rolled} END"
            rollups.append(
                f"{self.clamp(expr, group.min_points, group.max_points)} AS {q('s_' + group.name)}"
            )
        if rollups:
            ctes.append(f"{q('rolled')} AS (SELECT *, {', '.join(rollups)} FROM {q('scored')})")
        last = q("rolled") if rollups else q("scored")
        grade_sql = d.null_text()
        if model.grades is not None:
            source = q("s_" + model.grades.group)
            whens = " ".join(
                f"WHEN {source} >= {self.num(lower)} THEN {d.text(label)}"
                for label, lower in model.grades.bands
            )
            grade_sql = f"CASE {whens} ELSE {d.text(model.grades.otherwise)} END"
        ctes.append(f"{q('graded')} AS (SELECT *, {grade_sql} AS {q('grade')} FROM {last})")
        out_keys = [q("lead_id")] + ([q(CHECKPOINT_COLUMN)] if self.checkpoints else [])
        outputs = list(out_keys)
        outputs += [f"{q('s_' + g.name)} AS {q(g.name)}" for g in model.groups]
        outputs += [q("grade"), f"{mql_sql} AS {q('mql')}"]
        instant = "each checkpoint" if self.checkpoints else self.as_of.isoformat()
        sql = (
            f"-- leadgate {model.label} as of {instant} ({d.name})\n"
            "WITH\n"
            + ",\n".join(ctes)
            + "\nSELECT\n  "
            + ",\n  ".join(outputs)
            + f"\nFROM {q('graded')}\nORDER BY {', '.join(out_keys)}\n"
        )
        return CompiledQuery(
            sql=sql,
            dialect=d.name,
            model_label=model.label,
            as_of=self.as_of,
            score_columns=model.group_names,
            missing_columns=tuple(sorted(self.missing)),
            event_types=tuple(sorted(self.event_types)),
            event_columns=tuple(sorted(self.event_columns)),
            checkpoints=self.checkpoints,
        )

    def mql_leaf(
        self, cond: Condition | _LeadLeaf, ctx: _Context, lead_cols: list[tuple[str, str]]
    ) -> str:
        d, q = self.d, self.q
        if isinstance(cond, ScoreTest):
            total = d.fsum_list([q("s_" + name) for name in cond.groups])
            return _compare(self, total, cond.op, cond.operand)
        if isinstance(cond, GradeIn):
            return _in_list(q("grade"), [d.text(g) for g in cond.grades])
        if isinstance(cond, PredictedTest):
            value = self.record_value(FieldRef(Scope.LEAD, "predicted"), ctx)
            if value.kind == NULL:
                return "FALSE"
            if value.kind not in (FLOAT, INT):
                raise ctx.fail(f"leads.predicted must be a number column, not {value.kind}")
            alias = f"r{len(lead_cols)}"
            lead_cols.append((d.to_double(value.sql), alias))
            column = q(alias)
            test = _compare(self, column, cond.op, cond.operand)
            return f"coalesce(NOT {d.isnan(column)} AND {test}, FALSE)"
        if isinstance(cond, (EventOccurred, _LeadLeaf)):
            sql = cond.sql if isinstance(cond, _LeadLeaf) else self.event_test(cond, ctx)
            alias = f"r{len(lead_cols)}"
            lead_cols.append((sql, alias))
            return q(alias)
        raise ctx.fail(f"{type(cond).__name__} is not supported")

    def clamp(self, expr: str, low: float | None, high: float | None) -> str:
        if high is not None:
            hi = self.num(high)
            expr = f"(CASE WHEN {expr} > {hi} THEN {hi} ELSE {expr} END)"
        if low is not None:
            lo = self.num(low)
            expr = f"(CASE WHEN {expr} < {lo} THEN {lo} ELSE {expr} END)"
        return expr

    def events_cte(self) -> str:
        d, q = self.d, self.q
        ts = f"{q('e')}.{q('ts')}"
        ts_us = d.epoch_us(ts)
        cols = [
            f"{q('e')}.{q('lead_id')} AS {q('lead_id')}",
            f"{q('e')}.{q('type')} AS {q('type')}",
            f"{ts_us} AS {q('ts_us')}",
        ]
        if not self.checkpoints:
            cols.append(f"{self.age_of(ts_us)} AS {q('age')}")
        cols += [f"{expr} AS {q(alias)}" for expr, alias in self.ev.columns.items()]
        source = f"{q(self.tables['events'])} AS {q('e')}"
        where = "TRUE" if self.checkpoints else f"{ts_us} <= {self.as_of_us}"
        if self.event_types:
            where += " AND " + _in_list(
                f"{q('e')}.{q('type')}", [d.text(t) for t in sorted(self.event_types)]
            )
        else:
            where += " AND FALSE"
        name = q("ev0") if self.checkpoints else q("ev")
        scan = (
            f"{name} AS (\n  SELECT\n    "
            + ",\n    ".join(cols)
            + f"\n  FROM {source}\n  WHERE {where}\n)"
        )
        if not self.checkpoints:
            return scan
        # every event once per later checkpoint of its lead, aged from that checkpoint
        cp = q("cp")
        return (
            f"{scan},\n{q('ev')} AS (\n  SELECT\n    {q('x')}.*,\n"
            f"    {cp}.{q(CHECKPOINT_COLUMN)} AS {q(CHECKPOINT_COLUMN)},\n"
            f"    {self.age_of(q('x') + '.' + q('ts_us'))} AS {q('age')}\n"
            f"  FROM {q('ev0')} AS {q('x')}\n"
            f"  JOIN {q(self.tables['checkpoints'])} AS {cp}\n"
            f"    ON {cp}.{q('lead_id')} = {q('x')}.{q('lead_id')} "
            f"AND {q('x')}.{q('ts_us')} <= {cp}.{q(CHECKPOINT_COLUMN)}\n)"
        )

    def agg_cte(self) -> str:
        q = self.q
        keys = [q("lead_id")] + ([q(CHECKPOINT_COLUMN)] if self.checkpoints else [])
        cols = keys + [f"{expr} AS {q(alias)}" for expr, alias in self.agg]
        return (
            f"{q('agg')} AS (\n  SELECT\n    "
            + ",\n    ".join(cols)
            + f"\n  FROM {q('ev')}\n  GROUP BY {', '.join(keys)}\n)"
        )

    def lead_cte(self, lead_cols: list[tuple[str, str]]) -> str:
        q = self.q
        leads = self.schema.leads
        account_key = (
            f"{q('l')}.{q('account_id')}" if leads.has("account_id") else self.d.null_text()
        )
        cols = [
            f"{q('l')}.{q('lead_id')} AS {q('lead_id')}",
            f"{account_key} AS {q('account_key')}",
        ]
        cp = q("cp")
        if self.checkpoints:
            cols.append(f"{cp}.{q(CHECKPOINT_COLUMN)} AS {q(CHECKPOINT_COLUMN)}")
        cols += [f"{expr} AS {q(alias)}" for expr, alias in lead_cols]
        source = f"{q(self.tables['leads'])} AS {q('l')}"
        if self.email_domain_sql is not None:
            part = self.d.last_after(q("email"), "@")
            source = (
                f"(SELECT *, {self.email_domain_sql} AS {q(_EMAIL_DOMAIN)} "
                f"FROM (SELECT *, {part} AS {q(_EMAIL_PART)} "
                f"FROM {q(self.tables['leads'])})) AS {q('l')}"
            )
        if self.checkpoints:
            source = (
                f"{q(self.tables['checkpoints'])} AS {cp}\n  JOIN {source} "
                f"ON {q('l')}.{q('lead_id')} = {cp}.{q('lead_id')}"
            )
        if self.schema.accounts is not None and leads.has("account_id"):
            source += (
                f"\n  LEFT JOIN {q(self.tables['accounts'])} AS {q('a')} "
                f"ON {q('a')}.{q('account_id')} = {q('l')}.{q('account_id')}"
            )
        elif self.schema.accounts is not None:
            source += (
                f"\n  LEFT JOIN (SELECT * FROM {q(self.tables['accounts'])} WHERE FALSE) "
                f"AS {q('a')} ON FALSE"
            )
        on = f"{q('g')}.{q('lead_id')} = {q('l')}.{q('lead_id')}"
        if self.checkpoints:
            on += f" AND {q('g')}.{q(CHECKPOINT_COLUMN)} = {cp}.{q(CHECKPOINT_COLUMN)}"
        source += f"\n  LEFT JOIN {q('agg')} AS {q('g')} ON {on}"
        return (
            f"{q('per_lead')} AS (\n  SELECT\n    " + ",\n    ".join(cols) + f"\n  FROM {source}\n)"
        )


def _compare(compiler: _Compiler, expr: str, op: Op, operand: Any) -> str:
    if op is Op.BETWEEN:
        low, high = operand
        return f"({expr} BETWEEN {compiler.num(low)} AND {compiler.num(high)})"
    symbol = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<=", Op.EQ: "="}[op]
    return f"({expr} {symbol} {compiler.num(float(operand))})"


def _in_list(expr: str, literals: Sequence[str]) -> str:
    if not literals:
        return "FALSE"
    if len(literals) == 1:
        return f"({expr} = {literals[0]})"
    return f"({expr} IN ({', '.join(literals)}))"


def _epoch_us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("as_of must carry a time zone")
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def compile_model(
    model: ScoringModel,
    *,
    as_of: datetime,
    schema: InputSchema | None = None,
    dialect: str | Dialect = "duckdb",
    tables: Mapping[str, str] | None = None,
    checkpoints: bool = False,
) -> CompiledQuery:
    """Compile ``model`` at ``as_of`` into one query over ``events``/``leads``/``accounts``.

    With ``checkpoints`` the query scores every row of a fourth relation,
    ``checkpoints`` (``lead_id``, ``as_of_us``: microseconds since the epoch, UTC),
    each lead as of its own instants (each pair at most once), and returns one row
    per checkpoint (keys
    ``lead_id``, ``as_of_us``); ``as_of`` then only labels the query. This is the
    point-in-time replay behind backtests: the same meaning at many moments.

    Raises :class:`UnsupportedConstructError` naming the rule (or MQL path) for
    anything the dialect cannot express exactly.
    """
    chosen = dialect if isinstance(dialect, Dialect) else dialect_for(dialect)
    names = {
        "events": "events",
        "leads": "leads",
        "accounts": "accounts",
        "checkpoints": "checkpoints",
        **(tables or {}),
    }
    compiler = _Compiler(
        model, schema or InputSchema.canonical(), chosen, as_of, names, checkpoints=checkpoints
    )
    return compiler.compile()
