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
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from leadgate.common.sql import quote_backtick
from leadgate.engines.base import (
    CSV_TYPES,
    REQUIRED_COLUMNS,
    QueryEngine,
    TableSource,
    first_line,
    run_in_thread,
)
from leadgate.engines.compiler import (
    BOOL,
    FLOAT,
    INT,
    NULL,
    RUNTIME_UNSUPPORTED,
    TEXT,
    TIMESTAMP,
    CompiledQuery,
    compile_model,
)
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


class SparkEngine(QueryEngine):
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
        super().__init__()
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
        # timestamps without a zone are UTC, as everywhere in leadgate (restored on close)
        self._time_zone = self.spark.conf.get("spark.sql.session.timeZone", None)
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        _register_float_repr(self.spark)
        self.stop_on_close = stop_on_close and owns_session
        self._prefix = f"leadgate_{next(_counter)}_"
        self._frames: dict[str, Any] = {}

    def close(self) -> None:
        if self.stop_on_close:
            self.spark.stop()
            return
        for role in self._registered:
            self.spark.catalog.dropTempView(self.view(role))
            self.spark.catalog.dropTempView(self.view(role) + "__raw")
        if self._time_zone is not None:
            self.spark.conf.set("spark.sql.session.timeZone", self._time_zone)

    def view(self, role: str) -> str:
        return self._prefix + role

    # -- inputs -----------------------------------------------------------------------------
    def register(self, role: str, source: TableSource) -> None:
        """Make ``source`` the ``events``, ``leads``, ``accounts`` or ``adjustments`` relation."""
        if role not in REQUIRED_COLUMNS:
            raise ValueError(f"unknown input {role!r}")
        label = role
        typed: Mapping[str, str] = {}
        try:
            if isinstance(source, (str, Path)):
                label = str(source)
                location, suffix = _location(source, role)
                if suffix in (".csv", ".tsv", ".txt"):
                    frame = self.spark.read.csv(location, header=True, inferSchema=False, sep=",")
                    typed = CSV_TYPES[role]
                elif suffix in (".parquet", ".pq", ""):
                    frame = self.spark.read.parquet(location)
                else:
                    raise LeadgateError(
                        f"{role} file {label}: unknown format {suffix}; use .parquet or .csv"
                    )
            else:  # an Arrow table or a pandas DataFrame
                frame = self.spark.createDataFrame(source)
            columns = {field.name: field.dataType.simpleString() for field in frame.schema.fields}
        except LeadgateError:
            raise
        except Exception as exc:
            raise LeadgateError(f"cannot read {role} from {label}: {first_line(exc)}") from None
        self.require_columns(role, label, columns)
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

    def describe(self, role: str) -> dict[str, str]:
        fields = self._frames[role].schema.fields
        return {field.name: field.dataType.simpleString() for field in fields}

    def kind_of(self, type_name: str) -> str:
        return spark_kind(type_name)

    def fetch_one(self, sql: str) -> tuple[Any, ...]:
        return tuple(self.spark.sql(sql).collect()[0])

    def relation(self, role: str) -> str:
        return _q(self.view(role))

    def quote(self, name: str) -> str:
        return _q(name)

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
        tracker = _status_tracker(self.spark) if progress is not None else None
        try:
            table = run_in_thread(
                lambda: self.spark.sql(query.sql).toArrow(),
                progress=progress if tracker is not None else None,
                poll=lambda: _finished_share(tracker),
                every=0.25,
            )
        except Exception as error:
            message = str(error)
            if RUNTIME_UNSUPPORTED in message:
                detail = message.split(RUNTIME_UNSUPPORTED, 1)[1].splitlines()[0]
                raise UnsupportedConstructError(detail.rstrip("'\". ")) from None
            raise LeadgateError(f"the spark engine failed: {first_line(error)}") from None
        return _normalise(table, query)


def _location(source: str | Path, role: str) -> tuple[str, str]:
    """Where Spark reads ``source`` from, and its suffix ("" for a folder of Parquet).

    A URI (``s3a://``, ``hdfs://``, ``abfss://``...) is handed to Spark as it is:
    only the cluster can see it. A local path must exist here.
    """
    text = str(source)
    if "://" in text:
        name = text.rstrip("/").rsplit("/", 1)[-1]
        suffix = Path(name).suffix.lower() if "." in name else ""
        return text, suffix
    path = Path(source)
    if path.is_dir():
        return str(path.resolve()), ""
    if not path.is_file():
        raise LeadgateError(f"{role} file {path} does not exist")
    suffix = path.suffix.lower()
    return str(path.resolve()), suffix or "(none)"


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


_q = quote_backtick
