"""Run a compiled model on Apache Spark: local mode, a cluster, or Spark Connect.

The query is the one the compiler writes for DuckDB, spelt in Spark SQL
(:mod:`leadgate.engines.spark_sql`). Inputs are read the way the DuckDB engine
reads them: Parquet as typed, CSV as text except the columns the records define
as typed, timestamps without a zone as UTC. PySpark is an optional dependency
(``pip install 'leadgate[spark]'``).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from leadgate.engines.checks import run_checked
from leadgate.engines.compiler import (
    BOOL,
    FLOAT,
    INT,
    NULL,
    RUNTIME_UNSUPPORTED,
    TEXT,
    TIMESTAMP,
    CompiledQuery,
    InputSchema,
    TableSchema,
    compile_model,
)
from leadgate.engines.duckdb_engine import CSV_TYPES, REQUIRED_COLUMNS, TableSource
from leadgate.engines.spark_sql import FLOAT_REPR_UDF
from leadgate.exceptions import LeadgateError, UnsupportedConstructError
from leadgate.scoring.nodes import ScoringModel

__all__ = ["DEFAULT_MASTER", "SparkEngine", "spark_kind"]

#: Local mode on every core of this machine.
DEFAULT_MASTER = "local[*]"

_SPARK_CSV_TYPES = {"TIMESTAMPTZ": "TIMESTAMP", "BOOLEAN": "BOOLEAN", "DOUBLE": "DOUBLE"}
_counter = itertools.count()


def spark_kind(type_name: str) -> str:
    """The compiler's kind for a Spark SQL type name (``DataType.simpleString()``)."""
    name = type_name.lower()
    if name == "string" or name.startswith(("varchar", "char(")):
        return TEXT
    if name == "boolean":
        return BOOL
    if name in ("tinyint", "smallint", "int", "bigint"):
        return INT
    if name in ("float", "double") or name.startswith("decimal"):
        return FLOAT
    if name in ("void", "null"):
        return NULL
    if name.startswith("timestamp") or name == "date":
        return TIMESTAMP
    return f"unsupported:{type_name}"


def _local_heap() -> str:
    """Half the machine's memory, between 1 and 8 GB: Spark's 1 GB default is too
    small to collect a million scored leads in local mode."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return "2g"
    return f"{max(1, min(8, total // 2**31))}g"


def _import_pyspark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise LeadgateError(
            "the spark engine needs PySpark: pip install 'leadgate[spark]' (and Java 17+)"
        ) from None
    return SparkSession


def _register_float_repr(spark: Any) -> None:
    from pyspark.sql.types import StringType

    # defined here so that cloudpickle ships it by value: executors need no leadgate
    spark.udf.register(
        FLOAT_REPR_UDF, lambda value: None if value is None else repr(float(value)), StringType()
    )


class SparkEngine:
    """A Spark session holding the three input views of one rescoring run.

    ``master`` is a Spark master URL (``local[2]``, ``spark://host:7077``,
    ``yarn``) or a Spark Connect URL (``sc://host:15002``); without one, an
    already running session is used, or a local one on every core.
    """

    name = "spark"

    def __init__(
        self,
        *,
        master: str | None = None,
        spark: Any = None,
        config: Mapping[str, str] | None = None,
        stop_on_close: bool = False,
    ) -> None:
        owns_session = False
        if spark is None:
            session_cls = _import_pyspark()
            # a session that was running before is shared, never stopped here
            owns_session = session_cls.getActiveSession() is None
            builder = session_cls.builder.appName("leadgate-rescore")
            if master is not None and master.startswith("sc://"):
                builder = builder.remote(master)
            else:
                builder = builder.master(master or DEFAULT_MASTER)
                if (master or DEFAULT_MASTER).startswith("local"):
                    # local mode: driver and executors share the driver's heap
                    builder = (
                        builder.config("spark.driver.host", "127.0.0.1")
                        .config("spark.ui.enabled", "false")
                        .config("spark.sql.shuffle.partitions", "8")
                        .config("spark.driver.memory", _local_heap())
                    )
            for key, value in (config or {}).items():
                builder = builder.config(key, value)
            try:
                spark = builder.getOrCreate()
            except Exception as exc:
                raise LeadgateError(
                    f"cannot start Spark ({master or DEFAULT_MASTER}): {exc}"
                ) from None
        self.spark = spark
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        _register_float_repr(self.spark)
        self.stop_on_close = stop_on_close and owns_session
        self._prefix = f"leadgate_{next(_counter)}_"
        self._registered: dict[str, str] = {}
        self._frames: dict[str, Any] = {}

    def close(self) -> None:
        for role in self._registered:
            self.spark.catalog.dropTempView(self.view(role))
        if self.stop_on_close:
            self.spark.stop()

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def view(self, role: str) -> str:
        return self._prefix + role

    # -- inputs -----------------------------------------------------------------------------
    def register(self, role: str, source: TableSource) -> None:
        """Make ``source`` the ``events``, ``leads`` or ``accounts`` relation."""
        if role not in REQUIRED_COLUMNS:
            raise ValueError(f"unknown input {role!r}")
        label = role
        typed: Mapping[str, str] = {}
        try:
            if isinstance(source, (str, Path)):
                path = Path(source)
                label = str(path)
                if not path.is_file() and not path.is_dir():
                    raise LeadgateError(f"{role} file {path} does not exist")
                suffix = path.suffix.lower()
                if suffix in (".parquet", ".pq") or path.is_dir():
                    frame = self.spark.read.parquet(str(path.resolve()))
                elif suffix in (".csv", ".tsv", ".txt"):
                    frame = self.spark.read.csv(
                        str(path.resolve()), header=True, inferSchema=False, sep=","
                    )
                    typed = CSV_TYPES[role]
                else:
                    raise LeadgateError(
                        f"{role} file {path}: unknown format {suffix or '(none)'}; "
                        "use .parquet or .csv"
                    )
            elif isinstance(source, pa.Table):
                frame = self.spark.createDataFrame(source)
            else:
                frame = self.spark.createDataFrame(source)
            columns = {field.name: field.dataType.simpleString() for field in frame.schema.fields}
        except LeadgateError:
            raise
        except Exception as exc:
            raise LeadgateError(f"cannot read {role} from {label}: {_first_line(exc)}") from None
        missing = [name for name in REQUIRED_COLUMNS[role] if name not in columns]
        if missing:
            raise LeadgateError(
                f"{role} input {label} has no column {missing[0]!r} "
                f"(found: {', '.join(columns) or 'none'})"
            )
        select = []
        for name, type_name in columns.items():
            expr = _q(name)
            if name in typed:
                expr = f"CAST({_q(name)} AS {_SPARK_CSV_TYPES.get(typed[name], typed[name])})"
            elif role == "events" and name == "ts" and spark_kind(type_name) == TEXT:
                expr = f"CAST({_q(name)} AS TIMESTAMP)"
            select.append(f"{expr} AS {_q(name)}")
        raw = self.view(role) + "__raw"
        frame.createOrReplaceTempView(raw)
        self._frames[role] = self.spark.sql(f"SELECT {', '.join(select)} FROM {_q(raw)}")
        self._frames[role].createOrReplaceTempView(self.view(role))
        self._registered[role] = label

    def schema(self) -> InputSchema:
        """Column kinds of the registered inputs."""
        if "events" not in self._registered or "leads" not in self._registered:
            raise LeadgateError("register events and leads before rescoring")
        tables: dict[str, TableSchema] = {}
        for role in self._registered:
            fields = self._frames[role].schema.fields
            columns = {field.name: field.dataType.simpleString() for field in fields}
            kinds = {name: spark_kind(type_name) for name, type_name in columns.items()}
            if role == "events" and "properties" in kinds:
                if kinds["properties"] not in (TEXT, NULL):
                    raise LeadgateError(
                        f"events column 'properties' must hold JSON text, "
                        f"not {columns['properties']}"
                    )
                kinds["properties"] = "json"
            if role == "events" and kinds["ts"] != TIMESTAMP:
                raise LeadgateError(f"events column 'ts' must be a timestamp, not {columns['ts']}")
            tables[role] = TableSchema(kinds)
        return InputSchema(
            events=tables["events"], leads=tables["leads"], accounts=tables.get("accounts")
        )

    def validate(self, roles: Iterable[str] = ("leads", "accounts")) -> None:
        """Refuse duplicate or missing keys: each would change the meaning of the join."""
        keys = {"leads": "lead_id", "accounts": "account_id"}
        checks = [(role, keys[role]) for role in roles if role in self._registered]
        for role, key in checks:
            try:
                rows, distinct, present = self.spark.sql(
                    f"SELECT count(*), count(DISTINCT {_q(key)}), count({_q(key)}) "
                    f"FROM {_q(self.view(role))}"
                ).collect()[0]
            except Exception as exc:
                raise LeadgateError(
                    f"cannot read {role} from {self._registered[role]}: {_first_line(exc)}"
                ) from None
            if present != rows:
                raise LeadgateError(f"{role}: {rows - present} row(s) have no {key}")
            if distinct != rows:
                raise LeadgateError(f"{role}: {rows - distinct} duplicate {key} value(s)")

    # -- running ----------------------------------------------------------------------------
    def compile(self, model: ScoringModel, as_of: datetime) -> CompiledQuery:
        tables = {role: self.view(role) for role in REQUIRED_COLUMNS}
        return compile_model(
            model, as_of=as_of, schema=self.schema(), dialect="spark", tables=tables
        )

    def execute(
        self, query: CompiledQuery, *, progress: Callable[[float], None] | None = None
    ) -> pa.Table:
        """Run a compiled query; ``progress`` receives a percentage of finished tasks."""
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["table"] = self.spark.sql(query.sql).toArrow()
            except BaseException as exc:  # handed to the calling thread
                result["error"] = exc

        tracker = _status_tracker(self.spark) if progress is not None else None
        if tracker is None:
            run()
        else:
            assert progress is not None
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            while worker.is_alive():
                worker.join(0.25)
                progress(_finished_share(tracker))
        error = result.get("error")
        if error is not None:
            message = str(error)
            if RUNTIME_UNSUPPORTED in message:
                detail = message.split(RUNTIME_UNSUPPORTED, 1)[1].splitlines()[0]
                raise UnsupportedConstructError(detail.rstrip("'\". ")) from None
            if isinstance(error, Exception):
                raise LeadgateError(f"the spark engine failed: {_first_line(error)}") from None
            raise error
        table: pa.Table = result["table"]
        return _normalise(table, query)

    def rescore(
        self,
        model: ScoringModel,
        *,
        as_of: datetime,
        events: TableSource | None = None,
        leads: TableSource | None = None,
        accounts: TableSource | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> pa.Table:
        """Register the given inputs (if any), compile, validate and run."""
        for role, source in (("events", events), ("leads", leads), ("accounts", accounts)):
            if source is not None:
                self.register(role, source)
        query = self.compile(model, as_of)
        return run_checked(self, query, progress=progress)


def _normalise(table: pa.Table, query: CompiledQuery) -> pa.Table:
    """The DuckDB engine's output types: text ids, double scores, text grade, bool mql."""
    types = {name: pa.float64() for name in query.score_columns}
    types.update({"grade": pa.string(), "mql": pa.bool_()})
    columns = []
    for name in table.column_names:
        column = table.column(name)
        wanted = types.get(name)
        if wanted is not None and column.type != wanted:
            column = column.cast(wanted)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _status_tracker(spark: Any) -> Any:
    try:
        return spark.sparkContext.statusTracker()
    except Exception:  # Spark Connect has no SparkContext: no progress figures
        return None


def _finished_share(tracker: Any) -> float:
    done = total = 0
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None:
            done += info.numCompletedTasks
            total += info.numTasks
    return 100.0 * done / total if total else 0.0


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
