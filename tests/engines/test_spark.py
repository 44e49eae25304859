# ruff: noqa: RUF001  (Unicode look-alikes are the point of these tests)
"""Spark (local mode) gives the pure evaluator's scores, grades and MQL verdicts.

The same worlds and matrices as the DuckDB parity tests, run through the Spark SQL
spelling of the same compiled query, plus the Spark-only pieces: Python's case
tables, Java regular expressions, JSON through ``parse_json``, and the float
``repr`` UDF.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from leadgate.engines import compile_model
from leadgate.engines.compiler import InputSchema, _Compiler, dialect_for, translate_regex
from leadgate.engines.duckdb_engine import DuckDBEngine
from leadgate.engines.synthetic import WorldFiles, write_world
from leadgate.exceptions import LeadgateError, UnsupportedConstructError
from leadgate.scoring import ScoringModel, default_model, load_model_file
from leadgate.scoring.predicates import as_number as _as_number
from tests.conftest import REPO
from tests.engines.test_parity import (
    NUMBER_TEXTS,
    REGEX_PATTERNS,
    REGEX_SUBJECTS,
    TEXT_VALUES,
    VALUE_POOLS,
    _matrix_model,
    adjusted_world,
)
from tests.engines.worlds import (
    AS_OF,
    FLOATS,
    NUMBERS,
    World,
    assert_parity,
    events_table,
    model_docs,
    model_from,
    run_engine,
    worlds,
)

pyspark = pytest.importorskip(
    "pyspark", reason="PySpark is not installed (pip install -e '.[dev]')"
)
if shutil.which("java") is None:  # pragma: no cover - every machine of ours has Java 17
    pytest.skip("the Spark tests need Java 17+ on PATH", allow_module_level=True)

from leadgate.engines.spark_engine import SparkEngine  # noqa: E402

SPARK_PARITY = settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[2] session for the module (starting Spark takes seconds)."""
    engine = SparkEngine(master="local[2]")
    yield engine.spark


def _runner(spark: Any) -> Any:
    def run(model: ScoringModel, *tables: Any) -> dict[Any, dict[str, Any]]:
        with SparkEngine(spark=spark) as engine:
            return run_engine(engine, model, *tables)

    return run


class TestRandomWorlds:
    @SPARK_PARITY
    @given(doc=model_docs(), world=worlds(json_properties=False))
    def test_flat_properties_match_the_evaluator(
        self, spark: Any, doc: dict[str, Any], world: World
    ) -> None:
        """Random models over random worlds: same scores, grades and verdicts."""
        assert_parity(
            model_from(doc),
            world.events,
            world.leads,
            world.accounts,
            world.as_of,
            run=_runner(spark),
            adjustments=world.adjustments,
        )

    @SPARK_PARITY
    @given(doc=model_docs(), world=worlds(json_properties=True))
    def test_json_properties_match_the_evaluator(
        self, spark: Any, doc: dict[str, Any], world: World
    ) -> None:
        """JSON properties keep their JSON type per event, as Python's json reads them."""
        assert_parity(
            model_from(doc),
            world.events,
            world.leads,
            world.accounts,
            world.as_of,
            run=_runner(spark),
            adjustments=world.adjustments,
        )


class TestAdjustments:
    def test_from_their_instant_until_their_revocation_after_the_cap(self, spark: Any) -> None:
        """The same microsecond edges, caps, roll-up and ignored groups as on DuckDB."""
        model, leads, adjustments = adjusted_world()
        events = events_table([])
        got = assert_parity(
            model, events, leads, None, AS_OF, run=_runner(spark), adjustments=adjustments
        )
        assert [got[lead]["fit"] for lead in "abc"] == [30, 7, 10]
        assert [got[lead]["acc"] for lead in "abc"] == [37, 37, 10]


class TestEveryOperatorOnEveryKind:
    @pytest.mark.parametrize("kind", sorted(VALUE_POOLS))
    def test_lead_attribute_column(self, spark: Any, kind: str) -> None:
        """Every operator on text, integers, floats, booleans and decimals."""
        arrow_type, values = VALUE_POOLS[kind]
        leads = pa.table(
            {
                "lead_id": pa.array([f"l{i:03d}" for i in range(len(values))]),
                "v": pa.array(values, type=arrow_type),
            }
        )
        model = _matrix_model("lead.attributes.v", event=False)
        assert_parity(model, events_table([]), leads, None, AS_OF, run=_runner(spark))

    @pytest.mark.parametrize("layout", ["flat-text", "flat-float", "json"])
    def test_event_property(self, spark: Any, layout: str) -> None:
        """Every operator on event properties, flat columns or JSON values."""
        if layout == "json":
            values: list[Any] = [*TEXT_VALUES, *NUMBERS, *[f for f in FLOATS if math.isfinite(f)]]
            values += [True, False, None, 123456789012345678901234567890, 2**63 + 5, -(2**40)]
            values += [1.0, 1e300, 1.50]
            raw = ["{}", *(json.dumps({"v": v}, ensure_ascii=False) for v in values)]
            extra: dict[str, pa.DataType] = {"properties": pa.string()}
            cells = [{"properties": text} for text in raw]
        else:
            arrow_type, pool = VALUE_POOLS[layout.removeprefix("flat-")]
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
        assert_parity(model, events_table(rows, **extra), leads, None, AS_OF, run=_runner(spark))


def _scalar_spark(spark: Any, expr_of: Any, values: list[str]) -> list[Any]:
    """Evaluate a compiler text helper over ``values`` (column ``x``) on Spark."""
    compiler = _Compiler(
        default_model(),
        InputSchema.canonical(),
        dialect_for("spark"),
        AS_OF,
        {"events": "events", "leads": "leads", "accounts": "accounts"},
    )
    frame = spark.createDataFrame(pa.table({"i": list(range(len(values))), "x": values}))
    frame.createOrReplaceTempView("vals")
    rows = spark.sql(f"SELECT i, {expr_of(compiler, '`x`')} AS y FROM vals").toArrow()
    by_index = dict(zip(rows.column("i").to_pylist(), rows.column("y").to_pylist(), strict=True))
    return [by_index[i] for i in range(len(values))]


class TestTextSemantics:
    def test_every_code_point_folds_like_python(self, spark: Any) -> None:
        """Python's case-folding tables, not the JVM's Unicode version."""
        chars = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
        # the characters casefold changes, plus every 7th other one (Spark is slow here)
        chars = [ch for i, ch in enumerate(chars) if ch.casefold() != ch or i % 7 == 0]
        got = _scalar_spark(spark, lambda c, x: c.casefold(x), chars)
        wrong = [(ch, g) for ch, g in zip(chars, got, strict=True) if g != ch.casefold()]
        assert wrong == []

    def test_strings_fold_like_python(self, spark: Any) -> None:
        samples = [*TEXT_VALUES, "ΣΑΣ ΟΔΟΣ", "Maße İİ ﬃ", "ǅǈǋ ᾼ ﬅ", "ꭰꭱ Ꭰ", "a\u0307b"]
        assert _scalar_spark(spark, lambda c, x: c.casefold(x), samples) == [
            s.casefold() for s in samples
        ]

    def test_numbers_in_text_read_like_python_float(self, spark: Any) -> None:
        got = _scalar_spark(spark, lambda c, x: c.parse_number(x), NUMBER_TEXTS)
        assert got == [_as_number(text) for text in NUMBER_TEXTS]

    def test_translated_patterns_match_like_python(self, spark: Any) -> None:
        """RE2-style translations run on java.util.regex with Python's matches."""
        dialect = dialect_for("spark")
        for pattern in [*REGEX_PATTERNS, "(?m)^$", "(?m)a$", "(?m)^"]:
            translated = dialect.regex_pattern(translate_regex(pattern).pattern)
            got = _scalar_spark(
                spark, lambda c, x, t=translated: dialect.regex_search(x, t), REGEX_SUBJECTS
            )
            compiled = re.compile(pattern, re.IGNORECASE)
            assert got == [compiled.search(s) is not None for s in REGEX_SUBJECTS], pattern

    def test_float_text_is_python_repr(self, spark: Any) -> None:
        values = [0.1, 1e16, 1e-05, 12.0, -0.0, 5e-324, 2.5, 1e22, 123456789.125]
        frame = spark.createDataFrame(pa.table({"i": list(range(len(values))), "x": values}))
        frame.createOrReplaceTempView("floats")
        expr = dialect_for("spark").float_text("x")
        rows = spark.sql(f"SELECT i, {expr} AS y FROM floats ORDER BY i").toArrow()
        assert rows.column("y").to_pylist() == [repr(v) for v in values]


EXAMPLES = [None, *sorted((REPO / "examples" / "models").glob("*.yaml"))]


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> WorldFiles:
    """A small seeded synthetic world as Parquet and CSV files."""
    return write_world(
        tmp_path_factory.mktemp("world"), leads=400, accounts=60, events=6000, csv=True
    )


class TestFilesAndEngines:
    @pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: "default" if p is None else p.stem)
    def test_shipped_models_give_duckdbs_output_from_parquet_and_csv(
        self, spark: Any, world_files: WorldFiles, path: Path | None
    ) -> None:
        """Files in, identical tables out: scores, grades and verdicts on both engines."""
        model = default_model() if path is None else load_model_file(path)
        world = world_files
        with DuckDBEngine() as duck:
            expected = duck.rescore(
                model,
                as_of=world.as_of,
                events=world.events,
                leads=world.leads,
                accounts=world.accounts,
            )
        assert any(  # the world exercises the model: scores differ between leads
            len(set(expected.column(group).to_pylist())) > 1 for group in model.group_names
        )
        for fmt in ("parquet", "csv"):
            inputs = (
                {"events": world.events, "leads": world.leads, "accounts": world.accounts}
                if fmt == "parquet"
                else world.csv
            )
            with SparkEngine(spark=spark) as engine:
                got = engine.rescore(model, as_of=world.as_of, **inputs)
            assert got.column_names == expected.column_names
            for name in expected.column_names:
                left, right = expected.column(name).to_pylist(), got.column(name).to_pylist()
                if name in model.group_names:
                    assert all(
                        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
                        for a, b in zip(left, right, strict=True)
                    ), (fmt, name)
                else:
                    assert left == right, (fmt, name)

    def test_a_folder_uri_and_a_session_left_as_found(
        self, spark: Any, world_files: WorldFiles, tmp_path: Path
    ) -> None:
        """Inputs may be folders of Parquet files or URIs only the cluster resolves; the
        caller's session keeps its time zone and loses the engine's views."""
        folder = tmp_path / "events"
        folder.mkdir()
        events = pq.read_table(world_files.events)
        half = events.num_rows // 2
        pq.write_table(events.slice(0, half), folder / "part-0.parquet")
        pq.write_table(events.slice(half), folder / "part-1.parquet")
        spark.conf.set("spark.sql.session.timeZone", "Europe/Prague")
        try:
            with SparkEngine(spark=spark) as engine:
                got = engine.rescore(
                    default_model(),
                    as_of=world_files.as_of,
                    events=folder.as_uri(),
                    leads=str(world_files.leads),
                    accounts=world_files.accounts,
                )
                views = {view.name for view in spark.catalog.listTables()}
                assert any(name.endswith("events") for name in views)
            assert spark.conf.get("spark.sql.session.timeZone") == "Europe/Prague"
            assert not any(
                view.name.startswith(engine.view("")) for view in spark.catalog.listTables()
            )
        finally:
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        with DuckDBEngine() as duck:
            expected = duck.rescore(
                default_model(),
                as_of=world_files.as_of,
                events=world_files.events,
                leads=world_files.leads,
                accounts=world_files.accounts,
            )
        assert got.column("mql").equals(expected.column("mql"))
        assert got.column("grade").equals(expected.column("grade"))

    def test_a_json_list_is_refused_when_met(self, spark: Any, tmp_path: Path) -> None:
        model = model_from(
            {
                "version": 1,
                "name": "m",
                "groups": {
                    "engagement": {
                        "rules": [
                            {
                                "id": "tagged",
                                "event": "page.viewed",
                                "where": {"properties.tags": {"eq": "x"}},
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
                    "lead_id": "a",
                    "type": "page.viewed",
                    "ts": AS_OF - timedelta(days=1),
                    "properties": json.dumps({"tags": ["x"]}),
                }
            ],
            properties=pa.string(),
        )
        leads = pa.table({"lead_id": ["a"]})
        with (
            SparkEngine(spark=spark) as engine,
            pytest.raises(UnsupportedConstructError, match=r"rule 'tagged'.*list or object"),
        ):
            engine.rescore(model, as_of=AS_OF, events=events, leads=leads)

    def test_duplicate_leads_and_missing_columns_are_refused(
        self, spark: Any, tmp_path: Path
    ) -> None:
        events = tmp_path / "events.parquet"
        pq.write_table(events_table([]), events)
        leads = tmp_path / "leads.parquet"
        pq.write_table(pa.table({"lead_id": ["a", "a"]}), leads)
        with SparkEngine(spark=spark) as engine, pytest.raises(LeadgateError, match="duplicate"):
            engine.rescore(default_model(), as_of=AS_OF, events=events, leads=leads)
        bad = tmp_path / "bad.parquet"
        pq.write_table(pa.table({"id": ["a"]}), bad)
        with SparkEngine(spark=spark) as engine, pytest.raises(LeadgateError, match="lead_id"):
            engine.rescore(default_model(), as_of=AS_OF, events=events, leads=bad)

    def test_the_spark_sql_compiles_for_every_shipped_model(self) -> None:
        """No model we ship uses a construct Spark cannot run."""
        for path in EXAMPLES:
            model = default_model() if path is None else load_model_file(path)
            for layout in ("flat", "json"):
                sql = compile_model(
                    model,
                    as_of=AS_OF,
                    schema=InputSchema.canonical(properties=layout),
                    dialect="spark",
                ).sql
                assert "FILTER (WHERE" in sql and '"' not in sql.split("\n", 1)[1]
