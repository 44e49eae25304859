"""Batch scoring back ends: the model compiled to one SQL query per engine.

:func:`compile_model` turns a loaded :class:`~leadgate.scoring.ScoringModel` into
one SQL query with the exact meaning of the pure evaluator
(:func:`leadgate.scoring.evaluate_account`); :class:`DuckDBEngine` runs it over
Parquet or CSV files, pandas frames or Arrow tables, and
:class:`~leadgate.engines.spark_engine.SparkEngine` runs the Spark SQL spelling
of the same query in local mode, on a cluster or over Spark Connect. A construct an engine
cannot express raises :class:`~leadgate.exceptions.UnsupportedConstructError`
naming the rule; nothing is approximated.
"""

from __future__ import annotations

from leadgate.engines.compiler import (
    CompiledQuery,
    Dialect,
    InputSchema,
    TableSchema,
    compile_model,
    dialect_for,
)
from leadgate.engines.duckdb_engine import DuckDBEngine
from leadgate.engines.runner import ENGINES, RescoreResult, open_engine, rescore_files

__all__ = [
    "ENGINES",
    "CompiledQuery",
    "Dialect",
    "DuckDBEngine",
    "InputSchema",
    "RescoreResult",
    "TableSchema",
    "compile_model",
    "dialect_for",
    "open_engine",
    "rescore_files",
]
