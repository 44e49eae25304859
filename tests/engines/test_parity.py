# ruff: noqa: RUF001  (Unicode look-alikes are the point of these tests)
"""DuckDB gives the pure evaluator's scores, grades and MQL verdicts.

Random small worlds (models through the real loader, leads, accounts, events with
flat or JSON properties, random clocks) plus exhaustive matrices for the parts where
a near miss would hide: every operator on every kind of value, case folding over all
of Unicode, Python's number reading, and regular expressions.
"""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadgate.engines import DuckDBEngine, compile_model
from leadgate.engines.compiler import (
    CHECKPOINT_COLUMN,
    InputSchema,
    TableSchema,
    _epoch_us,
    translate_regex,
)
from leadgate.exceptions import LeadgateError, UnsupportedConstructError
from leadgate.scoring import default_model, load_model_file
from leadgate.scoring.predicates import as_number as _as_number
from tests.conftest import REPO
from tests.engines.worlds import (
    AS_OF,
    FLOATS,
    NUMBERS,
    REGEXES,
    TEXTS,
    World,
    adjustments_table,
    assert_parity,
    events_table,
    model_docs,
    model_from,
    table,
    worlds,
)

PARITY = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@PARITY
@given(doc=model_docs(), world=worlds())
def test_random_worlds_match_the_evaluator(doc: dict[str, Any], world: World) -> None:
    assert_parity(
        model_from(doc),
        world.events,
        world.leads,
        world.accounts,
        world.as_of,
        adjustments=world.adjustments,
    )


@PARITY
@given(doc=model_docs(), world=worlds(json_properties=True))
def test_random_worlds_with_json_properties_match_the_evaluator(
    doc: dict[str, Any], world: World
) -> None:
    assert_parity(
        model_from(doc),
        world.events,
        world.leads,
        world.accounts,
        world.as_of,
        adjustments=world.adjustments,
    )


# -- every operator on every kind of value ------------------------------------------------------

OPERANDS: list[Any] = [*TEXTS, *NUMBERS, True, False, "TRUE", "12", "1e-05", "50.5", "inf", "nan"]


def _predicates() -> list[dict[str, Any]]:
    preds: list[dict[str, Any]] = []
    for operand in OPERANDS:
        preds += [{"eq": operand}, {"ne": operand}]
    for i in range(0, len(OPERANDS), 3):
        chunk = OPERANDS[i : i + 3]
        preds += [{"in": chunk}, {"not_in": chunk}]
    for number in NUMBERS:
        preds += [{op: number} for op in ("gt", "gte", "lt", "lte")]
    preds += [{"between": [0, 12]}, {"between": [-1, 1e16]}, {"between": [12, 12]}]
    for text in [t for t in TEXTS if t.strip()] + ["1", "0", "e-0", "tru", "RUE"]:
        preds += [{op: text} for op in ("contains", "starts_with", "ends_with")]
    preds += [{"regex": pattern} for pattern in REGEXES]
    preds += [{"exists": True}, {"exists": False}]
    preds += [{"in_list": "free_mail"}, {"not_in_list": "odd"}]
    return preds


PREDICATES = _predicates()
ODD_LIST = ["12", "CZ", "Straße", "true", "1e-05", "nan", "inf", "50.5", "0"]


def _matrix_model(field: str, *, event: bool) -> Any:
    groups: dict[str, Any] = {}
    for index, pred in enumerate(PREDICATES):
        if event:
            rule = {
                "id": f"p{index}",
                "event": "page.viewed",
                "where": {field: pred},
                "points": 1,
                "decay": "none",
            }
        else:
            rule = {"id": f"p{index}", "when": {field: pred}, "points": 1}
        groups[f"g{index}"] = {"rules": [rule]}
    return model_from(
        {"version": 1, "name": "matrix", "lists": {"odd": ODD_LIST}, "groups": groups}
    )


TEXT_VALUES = [
    *TEXTS,
    "ß",
    "ẞ",
    "Σ",
    "ς",
    "ǅ",
    "\u0130",
    "١٢.٥",
    "\u00a012\u2003",
    "1__0",
    "+.5e-3",
]
VALUE_POOLS: dict[str, tuple[pa.DataType, list[Any]]] = {
    "text": (pa.string(), [None, *TEXT_VALUES]),
    "int": (pa.int64(), [None, 0, 12, -3, 50, 1000, 10**16 + 1]),
    "float": (pa.float64(), [None, *FLOATS, 12.5, 5e-324, -1e300]),
    "bool": (pa.bool_(), [None, True, False]),
    "decimal": (
        pa.decimal128(10, 3),
        [None, *(Decimal(x) for x in ("12.000", "0.500", "-3.250"))],
    ),
}


class TestEveryOperatorOnEveryKind:
    @pytest.mark.parametrize("kind", sorted(VALUE_POOLS))
    def test_lead_attribute_column(self, kind: str) -> None:
        arrow_type, values = VALUE_POOLS[kind]
        leads = pa.table(
            {
                "lead_id": pa.array([f"l{i:03d}" for i in range(len(values))]),
                "v": pa.array(values, type=arrow_type),
            }
        )
        model = _matrix_model("lead.attributes.v", event=False)
        assert_parity(model, events_table([]), leads, None, AS_OF)

    @pytest.mark.parametrize("layout", ["flat-text", "flat-float", "flat-int", "flat-bool", "json"])
    def test_event_property(self, layout: str) -> None:
        if layout == "json":
            values: list[Any] = [*TEXT_VALUES, *NUMBERS, *[f for f in FLOATS if math.isfinite(f)]]
            values += [True, False, None, 123456789012345678901234567890, 2**63 + 5, -(2**40)]
            raw = ["{}", *(json.dumps({"v": v}, ensure_ascii=False) for v in values)]
            extra: dict[str, pa.DataType] = {"properties": pa.string()}
            cells = [{"properties": text} for text in raw]
        else:
            kind = layout.removeprefix("flat-")
            arrow_type, pool = VALUE_POOLS[kind]
            extra = {"v": arrow_type}
            cells = [{"v": v} for v in pool]
        leads = pa.table({"lead_id": pa.array([f"l{i:03d}" for i in range(len(cells))])})
        rows = [
            {
                "event_id": f"e{i}",
                "lead_id": f"l{i:03d}",
                "type": "page.viewed",
                "ts": AS_OF - timedelta(days=1),
                **cell,
            }
            for i, cell in enumerate(cells)
        ]
        model = _matrix_model("properties.v", event=True)
        assert_parity(model, events_table(rows, **extra), leads, None, AS_OF)


# -- exact text and number semantics --------------------------------------------------------------


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _scalar_sql(con: duckdb.DuckDBPyConnection, expr_of: Any, values: list[str]) -> list[Any]:
    """Evaluate a compiler text helper over ``values`` (column ``x``) in DuckDB."""
    from leadgate.engines.compiler import DUCKDB, _Compiler

    compiler = _Compiler(
        default_model(),
        InputSchema.canonical(),
        DUCKDB,
        AS_OF,
        {"events": "events", "leads": "leads", "accounts": "accounts"},
    )
    con.register("vals", pa.table({"i": list(range(len(values))), "x": values}))
    expr = expr_of(compiler, '"x"')
    sql = f"SELECT {expr} FROM vals ORDER BY i"
    return [row[0] for row in con.execute(sql).fetchall()]


class TestCaseFolding:
    def test_every_code_point_folds_like_python(self, con: duckdb.DuckDBPyConnection) -> None:
        chars = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
        got = _scalar_sql(con, lambda c, x: c.casefold(x), chars)
        wrong = [(ch, g) for ch, g in zip(chars, got, strict=True) if g != ch.casefold()]
        assert wrong == []

    def test_strings_fold_like_python(self, con: duckdb.DuckDBPyConnection) -> None:
        samples = [*TEXT_VALUES, "ΣΑΣ ΟΔΟΣ", "Maße İİ ﬃ", "ǅǈǋ ᾼ ﬅ", "ꭰꭱ Ꭰ", "a\u0307b"]
        got = _scalar_sql(con, lambda c, x: c.casefold(x), samples)
        assert got == [s.casefold() for s in samples]


NUMBER_TEXTS = [
    *TEXT_VALUES,
    "1_000.5_5",
    "1._5",
    "_1",
    "1e1_0",
    "\x1c5",
    "5\x85",
    "5\u200b",
    "\uff15",
    "1e400",
    "-1e-400",
    "0x10",
    "Infinity",
    "-nan",
    ".",
    "e5",
    "+",
    "١_٢",
    "٥e١",
    "12\u00a0",
    " \t7.25\n",
]


@given(st.text(alphabet="0123456789_+-.eE \t\u00a0\u0661\u0665x", max_size=8))
@settings(max_examples=400, deadline=None)
def test_numbers_in_text_read_like_python_float(text: str) -> None:
    got = _scalar_sql(duckdb.connect(), lambda c, x: c.parse_number(x), [text])[0]
    assert got == _as_number(text)


def test_number_edge_cases_read_like_python_float(con: duckdb.DuckDBPyConnection) -> None:
    got = _scalar_sql(con, lambda c, x: c.parse_number(x), NUMBER_TEXTS)
    assert got == [_as_number(text) for text in NUMBER_TEXTS]


REGEX_SUBJECTS = [
    *TEXT_VALUES,
    "abc\n",
    "a\nb",
    "xx",
    "yyy",
    "k\u212a",
    "\u212a",
    "\u017f",
    "S",
    "\u0661",
    "\u2003x",
    "",
    "\n",
    "price list",
]
REGEX_PATTERNS = [
    *REGEXES,
    "[a-z]$",
    "^.$",
    "s",
    "[^s]",
    "\\D",
    "\\S\\s",
    "[\\d\\s]+",
    "[\\w]",
    "\\w+",
    "\\W",
    "\\Aa",
    "b\\Z",
    "(?i:A)(?-i:b)",
    "a{2}",
    "(a|b)+?c",
    "ΣΑΣ",
    "(?-i:σ)",
    "[à-ÿ]",
    "\\u212a",
]


class TestRegularExpressions:
    def test_translated_patterns_match_like_python(self, con: duckdb.DuckDBPyConnection) -> None:
        for pattern in REGEX_PATTERNS:
            translated = translate_regex(pattern).pattern
            compiled = re.compile(pattern, re.IGNORECASE)
            con.register("s", pa.table({"i": range(len(REGEX_SUBJECTS)), "x": REGEX_SUBJECTS}))
            got = [
                row[0]
                for row in con.execute(
                    "SELECT regexp_matches(x, ?) FROM s ORDER BY i", [translated]
                ).fetchall()
            ]
            expected = [compiled.search(s) is not None for s in REGEX_SUBJECTS]
            assert got == expected, pattern

    @pytest.mark.parametrize(
        "pattern",
        ["(?<=a)b", "(a)\\1", "\\bword", "a(?=b)", "(?a)x", "a$b", "a{1001}", "(?>a)", "a*+"],
    )
    def test_constructs_re2_cannot_express_are_refused(self, pattern: str) -> None:
        with pytest.raises(UnsupportedConstructError, match="regex"):
            translate_regex(pattern)

    def test_a_refused_regex_names_the_rule(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "fit": {
                        "rules": [
                            {
                                "id": "lookbehind",
                                "when": {"lead.title": {"regex": "(?<=x)y"}},
                                "points": 1,
                            }
                        ]
                    }
                },
            }
        )
        with pytest.raises(UnsupportedConstructError, match="rule 'lookbehind'"):
            compile_model(model, as_of=AS_OF)


# -- one class per construct ------------------------------------------------------------


def _leads(*rows: dict[str, Any], **types: pa.DataType) -> pa.Table:
    schema = {"lead_id": pa.string(), "account_id": pa.string(), **types}
    return table(list(rows), schema)


def _events(*rows: tuple[str, str, float], **extra: Any) -> pa.Table:
    return events_table(
        [
            {"event_id": f"e{i}", "lead_id": lead, "type": type_, "ts": AS_OF - timedelta(days=age)}
            for i, (lead, type_, age) in enumerate(rows)
        ]
    )


class TestDecay:
    def test_points_halve_every_half_life(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "e": {
                        "half_life_days": 10,
                        "rules": [{"id": "o", "event": "email.opened", "points": 8}],
                    }
                },
            }
        )
        events = _events(
            ("a", "email.opened", 10), ("a", "email.opened", 20), ("a", "email.opened", 0.5)
        )
        got = assert_parity(model, events, _leads({"lead_id": "a"}), None, AS_OF)
        assert got["a"]["e"] == pytest.approx(4 + 2 + 8 * 0.5**0.05)

    def test_future_events_are_ignored(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {"e": {"rules": [{"id": "o", "event": "email.opened", "points": 8}]}},
            }
        )
        events = _events(("a", "email.opened", -0.001), ("a", "email.opened", 0))
        got = assert_parity(model, events, _leads({"lead_id": "a"}), None, AS_OF)
        assert got["a"]["e"] == 8


class TestMaxCountAndWindows:
    def test_only_the_most_recent_matching_events_count(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "e": {
                        "half_life_days": 5,
                        "rules": [
                            {
                                "id": "o",
                                "event": "email.opened",
                                "points": 10,
                                "max_count": 2,
                                "within_days": 30,
                            }
                        ],
                    }
                },
            }
        )
        events = _events(*(("a", "email.opened", age) for age in (1, 1, 3, 31, 0.1)))
        got = assert_parity(model, events, _leads({"lead_id": "a"}), None, AS_OF)
        assert got["a"]["e"] == pytest.approx(10 * 0.5 ** (0.1 / 5) + 10 * 0.5 ** (1 / 5))

    def test_max_count_without_decay_and_with_ties(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "e": {
                        "rules": [
                            {"id": "o", "event": "email.opened", "points": 2.5, "max_count": 3}
                        ]
                    }
                },
            }
        )
        events = _events(*(("a", "email.opened", 2) for _ in range(5)))
        got = assert_parity(model, events, _leads({"lead_id": "a"}), None, AS_OF)
        assert got["a"]["e"] == 7.5


class TestRollups:
    @pytest.mark.parametrize("how", ["sum", "max", "avg"])
    def test_rollup_over_the_account_and_alone_without_one(self, how: str) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "e": {
                        "rules": [{"id": "o", "event": "email.opened", "points": 10}],
                        "max_points": 25,
                    },
                    "acc": {"rollup": {"from": "e", "how": how}, "min_points": 5},
                },
            }
        )
        leads = _leads(
            {"lead_id": "a", "account_id": "x"},
            {"lead_id": "b", "account_id": "x"},
            {"lead_id": "c"},
            {"lead_id": "d", "account_id": "ghost"},
        )
        events = _events(
            ("a", "email.opened", 1),
            ("a", "email.opened", 1),
            ("a", "email.opened", 1),
            ("b", "email.opened", 1),
            ("c", "email.opened", 3),
        )
        accounts = table([{"account_id": "x"}], {"account_id": pa.string()})
        got = assert_parity(model, events, leads, accounts, AS_OF)
        expected = {"sum": 35, "max": 25, "avg": 17.5}[how]
        assert got["a"]["acc"] == got["b"]["acc"] == expected
        assert got["c"]["acc"] == 10 and got["d"]["acc"] == 5


class TestGradesAndMql:
    def test_examples_and_the_default_model(self) -> None:
        leads = _leads(
            {"lead_id": "a", "account_id": "x", "seniority": "Director", "email": "a@acme.cz"},
            {"lead_id": "b", "account_id": "x", "email": "b@gmail.com"},
            {"lead_id": "c"},
            seniority=pa.string(),
            email=pa.string(),
        )
        accounts = table(
            [{"account_id": "x", "employees": 120, "country": "cz", "industry": "Manufacturing"}],
            {
                "account_id": pa.string(),
                "employees": pa.int64(),
                "country": pa.string(),
                "industry": pa.string(),
            },
        )
        rows = []
        for lead in ("a", "b", "c"):
            for i, (type_, age) in enumerate(
                [
                    ("webinar.registered", 20),
                    ("webinar.attended", 10),
                    ("page.viewed", 3),
                    ("email.opened", 2),
                    ("email.clicked", 1),
                    ("form.submitted", 1),
                    ("content.downloaded", 4),
                    ("page.viewed", 12),
                ]
            ):
                rows.append(
                    {
                        "event_id": f"{lead}{i}",
                        "lead_id": lead,
                        "type": type_,
                        "ts": AS_OF - timedelta(days=age),
                        "url": "https://x.io/PRICING" if lead != "b" else "/blog",
                        "asset_type": "Case_Study",
                        "channel": "linkedin",
                    }
                )
        events = events_table(rows, url=pa.string(), asset_type=pa.string())
        models = [default_model()] + [
            load_model_file(path) for path in sorted((REPO / "examples" / "models").glob("*.yaml"))
        ]
        verdicts = set()
        for model in models:
            got = assert_parity(model, events, leads, accounts, AS_OF)
            verdicts |= {row["mql"] for row in got.values()}
        assert verdicts == {True, False}

    def test_after_counts_only_events_later_than_the_first_trigger(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {"e": {"rules": [{"id": "o", "event": "page.viewed", "points": 1}]}},
                "mql": {"any_event": "page.viewed", "after": "webinar.attended", "min_count": 2},
            }
        )
        events = _events(
            ("a", "webinar.attended", 5),
            ("a", "page.viewed", 6),
            ("a", "page.viewed", 4),
            ("a", "page.viewed", 5),
            ("b", "webinar.attended", 5),
            ("b", "webinar.attended", 1),
            ("b", "page.viewed", 4),
            ("b", "page.viewed", 2),
            ("c", "page.viewed", 1),
            ("c", "page.viewed", 2),
        )
        leads = _leads({"lead_id": "a"}, {"lead_id": "b"}, {"lead_id": "c"})
        got = assert_parity(model, events, leads, None, AS_OF)
        assert [got[x]["mql"] for x in "abc"] == [False, True, False]


_ADJUSTED = {
    "version": 1,
    "name": "adjusted",
    "groups": {
        "fit": {
            "max_points": 10,
            "rules": [{"id": "cz", "when": {"lead.country": "CZ"}, "points": 20}],
        },
        "engagement": {"rules": [{"id": "o", "event": "email.opened", "points": 10}]},
        "acc": {"rollup": {"from": "fit", "how": "sum"}},
    },
    "grades": {"group": "fit", "bands": {"A": 25}, "otherwise": "B"},
    "mql": {"score": "fit", "gte": 25},
}
_US = timedelta(microseconds=1)


def _adjustments(*rows: tuple[str, str, float, Any, Any]) -> pa.Table:
    return adjustments_table(
        [
            {"lead_id": lead, "group_name": group, "points": points, "at": at, "revoked_at": until}
            for lead, group, points, at, until in rows
        ]
    )


def adjusted_world() -> tuple[Any, pa.Table, pa.Table]:
    """The model, leads and adjustments of ``TestAdjustments`` (Spark runs them too)."""
    leads = _leads(
        {"lead_id": "a", "account_id": "x", "country": "CZ"},
        {"lead_id": "b", "account_id": "x", "country": "CZ"},
        {"lead_id": "c", "country": "CZ"},
        country=pa.string(),
    )
    adjustments = _adjustments(
        ("a", "fit", 20.0, AS_OF, None),
        ("a", "fit", 100.0, AS_OF + _US, None),
        ("b", "fit", 20.0, AS_OF - timedelta(days=9), AS_OF),
        ("b", "fit", -3.0, AS_OF - timedelta(days=9), AS_OF + _US),
        ("b", "engagement", 2.5, AS_OF - timedelta(days=400), None),
        ("c", "acc", 50.0, AS_OF - _US, None),
        ("c", "interest", 50.0, AS_OF - _US, None),
        ("nobody", "fit", 50.0, AS_OF - _US, None),
    )
    return model_from(_ADJUSTED), leads, adjustments


class TestAdjustments:
    def test_from_their_instant_until_their_revocation_after_the_cap(self) -> None:
        """a: +20 at as_of (counts), +100 a microsecond later (not yet); b: +20 revoked at
        as_of (no longer), -3 revoked a microsecond later (still); c: a roll-up and a group
        no model has (nowhere); the capped fit of 10 is adjusted past its cap."""
        model, leads, adjustments = adjusted_world()
        got = assert_parity(model, _events(), leads, None, AS_OF, adjustments=adjustments)
        assert [got[lead]["fit"] for lead in "abc"] == [30, 7, 10]
        assert [got[lead]["acc"] for lead in "abc"] == [37, 37, 10]
        assert got["b"]["engagement"] == 2.5
        assert [(got[lead]["grade"], got[lead]["mql"]) for lead in "abc"] == [
            ("A", True),
            ("B", False),
            ("B", False),
        ]

    def test_checkpoints_see_each_adjustment_from_its_instant(self) -> None:
        """One query at many instants: before, at, during and after the revocation."""
        leads = _leads({"lead_id": "a", "country": "CZ"}, country=pa.string())
        at, until = AS_OF - timedelta(days=3), AS_OF - timedelta(days=1)
        adjustments = _adjustments(("a", "fit", 20.0, at, until))
        instants = [at - _US, at, until - _US, until, AS_OF]
        checkpoints = pa.table(
            {
                "lead_id": ["a"] * len(instants),
                CHECKPOINT_COLUMN: [_epoch_us(moment) for moment in instants],
            }
        )
        model = model_from(_ADJUSTED)
        with DuckDBEngine(threads=1) as engine:
            engine.register("events", _events())
            engine.register("leads", leads)
            engine.register("adjustments", adjustments)
            engine.con.register("checkpoints", checkpoints)
            query = compile_model(model, as_of=AS_OF, schema=engine.schema(), checkpoints=True)
            rows = engine.execute(query).to_pylist()
        assert [row["fit"] for row in rows] == [10, 30, 30, 10, 10]

    def test_files_and_an_input_that_cannot_mean_it_is_refused(self, tmp_path: Any) -> None:
        """CSV adjustments are read typed; a text ``at`` or ``points`` is refused by name."""
        path = tmp_path / "adjustments.csv"
        path.write_text("lead_id,group_name,points,at,revoked_at\na,fit,20,2025-06-01T11:00:00Z,\n")
        leads = _leads({"lead_id": "a", "country": "CZ"}, country=pa.string())
        model = model_from(_ADJUSTED)
        with DuckDBEngine(threads=1) as engine:
            table_ = engine.rescore(
                model, as_of=AS_OF, events=_events(), leads=leads, adjustments=path
            )
        assert table_.column("fit").to_pylist() == [30]
        bad = pa.table({"lead_id": ["a"], "group_name": ["fit"], "points": ["20"], "at": [AS_OF]})
        with (
            DuckDBEngine(threads=1) as engine,
            pytest.raises(LeadgateError, match="adjustments column 'points' must be a number"),
        ):
            engine.rescore(model, as_of=AS_OF, events=_events(), leads=leads, adjustments=bad)


class TestUnsupportedConstructs:
    def test_list_columns_are_refused_naming_the_rule(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "fit": {
                        "rules": [
                            {"id": "tagged", "when": {"lead.attributes.tags": "vip"}, "points": 1}
                        ]
                    }
                },
            }
        )
        leads = pa.table(
            {"lead_id": ["a"], "tags": pa.array([["vip"]], type=pa.list_(pa.string()))}
        )
        with (
            DuckDBEngine() as engine,
            pytest.raises(UnsupportedConstructError, match="rule 'tagged'"),
        ):
            engine.rescore(model, as_of=AS_OF, events=_events(), leads=leads)

    def test_json_lists_are_refused_when_met(self) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "e": {
                        "rules": [
                            {
                                "id": "tags",
                                "event": "page.viewed",
                                "where": {"properties.tags": "vip"},
                                "points": 1,
                            }
                        ]
                    }
                },
            }
        )
        events = events_table(
            [
                {
                    "event_id": "e",
                    "lead_id": "a",
                    "type": "page.viewed",
                    "ts": AS_OF,
                    "properties": '{"tags": ["vip"]}',
                }
            ],
            properties=pa.string(),
        )
        with (
            DuckDBEngine() as engine,
            pytest.raises(UnsupportedConstructError, match=r"rule 'tags'.*list"),
        ):
            engine.rescore(model, as_of=AS_OF, events=events, leads=_leads({"lead_id": "a"}))

    def test_planned_engines_say_not_yet_available(self) -> None:
        with pytest.raises(UnsupportedConstructError, match="PostgreSQL engine is not yet"):
            compile_model(default_model(), as_of=AS_OF, dialect="postgresql")


def test_a_missing_column_is_a_missing_value_and_reported() -> None:
    schema = InputSchema(
        events=TableSchema({"lead_id": "text", "type": "text", "ts": "timestamp"}),
        leads=TableSchema({"lead_id": "text"}),
    )
    query = compile_model(default_model(), as_of=AS_OF, schema=schema)
    assert "events.url" in query.missing_columns
    assert "leads.seniority" in query.missing_columns


def test_event_order_and_clock_zone_do_not_matter() -> None:
    model = default_model()
    events = _events(("a", "email.opened", 1), ("a", "page.viewed", 2), ("a", "email.opened", 40))
    reversed_events = events.take(list(range(events.num_rows))[::-1])
    first = assert_parity(model, events, _leads({"lead_id": "a"}), None, AS_OF)
    second = assert_parity(model, reversed_events, _leads({"lead_id": "a"}), None, AS_OF)
    assert first == second
