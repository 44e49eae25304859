"""Batch scoring back ends: the model compiled to one SQL query per engine.

:func:`compile_model` turns a loaded :class:`~leadgate.scoring.ScoringModel` into
one SQL query with the exact meaning of the pure evaluator
(:func:`leadgate.scoring.evaluate_account`); :class:`DuckDBEngine` runs it over
Parquet or CSV files, pandas frames or Arrow tables. A construct an engine
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
from leadgate.engines.duckdb_engine import DuckDBEngine, RescoreResult, rescore_files

__all__ = [
    "CompiledQuery",
    "Dialect",
    "DuckDBEngine",
    "InputSchema",
    "RescoreResult",
    "TableSchema",
    "compile_model",
    "dialect_for",
    "rescore_files",
]
