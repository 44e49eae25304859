"""Rescore files on a chosen engine and write the result atomically."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from leadgate.engines.base import TableSource
from leadgate.engines.checks import run_checked
from leadgate.engines.compiler import CompiledQuery
from leadgate.engines.duckdb_engine import DuckDBEngine
from leadgate.exceptions import LeadgateError
from leadgate.scoring.nodes import ScoringModel

__all__ = ["ENGINES", "RescoreResult", "open_engine", "rescore_files", "write_table"]

#: Engines that run the compiled query.
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class RescoreResult:
    """What one rescoring run produced."""

    leads: int
    mqls: int
    seconds: float
    engine: str
    query: CompiledQuery
    table: pa.Table | None = None
    out: Path | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "leads": self.leads,
            "mqls": self.mqls,
            "seconds": round(self.seconds, 3),
            "engine": self.engine,
            "model": self.query.model_label,
            "as_of": self.query.as_of.isoformat(),
            "out": None if self.out is None else str(self.out),
            "missing_columns": list(self.query.missing_columns),
        }


def open_engine(
    engine: str = "duckdb", *, threads: int | None = None, spark_master: str | None = None
) -> Any:
    """A fresh engine object (``DuckDBEngine`` or ``SparkEngine``) to use as a context."""
    name = engine.strip().lower()
    if name == "duckdb":
        if spark_master is not None:
            raise LeadgateError("--spark-master applies to --engine spark only")
        return DuckDBEngine(threads=threads)
    if name == "spark":
        from leadgate.engines.spark_engine import SparkEngine

        return SparkEngine(master=spark_master, stop_on_close=True)
    raise LeadgateError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def rescore_files(
    model: ScoringModel,
    *,
    events: TableSource,
    leads: TableSource,
    accounts: TableSource | None = None,
    adjustments: TableSource | None = None,
    as_of: datetime,
    out: Path | None = None,
    progress: Callable[[float], None] | None = None,
    threads: int | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> RescoreResult:
    """Rescore every lead (with people's score adjustments, if given); write ``out``
    (Parquet or CSV by extension) atomically if given."""
    if out is not None:
        _output_format(out)
    started = time.perf_counter()
    with open_engine(engine, threads=threads, spark_master=spark_master) as runner:
        runner.register("events", events)
        runner.register("leads", leads)
        if accounts is not None:
            runner.register("accounts", accounts)
        if adjustments is not None:
            runner.register("adjustments", adjustments)
        query = runner.compile(model, as_of)
        table = run_checked(runner, query, progress=progress)
        name = runner.name
    mqls = int(pc.sum(pc.cast(table.column("mql"), pa.int64())).as_py() or 0)
    if out is not None:
        write_table(table, out)
    return RescoreResult(
        leads=table.num_rows,
        mqls=mqls,
        seconds=time.perf_counter() - started,
        engine=name,
        query=query,
        table=table,
        out=out,
    )


def write_table(table: pa.Table, out: Path) -> None:
    """Write Parquet or CSV (by extension) to a temporary file, then move it into place."""
    fmt = _output_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        if fmt == "parquet":
            pq.write_table(table, temp)
        else:
            pa_csv.write_csv(table, temp)
        temp.replace(out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _output_format(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise LeadgateError(f"output {out}: unknown format {suffix or '(none)'}; use .parquet or .csv")
