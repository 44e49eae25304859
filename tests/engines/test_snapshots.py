"""The SQL generated for the shipped default model and the example models, per engine,
kept as snapshots.

A change in the generated SQL shows up in review. Regenerate after an intended change with
``LEADGATE_UPDATE_SNAPSHOTS=1 pytest tests/engines/test_snapshots.py``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from leadgate.engines import compile_model
from leadgate.engines.compiler import InputSchema
from leadgate.scoring import ScoringModel, default_model, load_model_file
from tests.conftest import REPO

SNAPSHOTS = Path(__file__).parent / "snapshots"
AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EXAMPLES = sorted((REPO / "examples" / "models").glob("*.yaml"))
CASES = {"default": None, **{path.stem: path for path in EXAMPLES}}


def _model(name: str) -> ScoringModel:
    path = CASES[name]
    return default_model() if path is None else load_model_file(path)


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
@pytest.mark.parametrize("layout", ["flat", "json"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_sql_matches_the_snapshot(name: str, layout: str, dialect: str) -> None:
    sql = compile_model(
        _model(name),
        as_of=AS_OF,
        schema=InputSchema.canonical(properties=layout),
        dialect=dialect,
    ).sql
    snapshot = SNAPSHOTS / f"{name}.{layout}.{dialect}.sql"
    if os.environ.get("LEADGATE_UPDATE_SNAPSHOTS") == "1" or not snapshot.exists():
        if os.environ.get("CI") and not snapshot.exists():
            pytest.fail(f"snapshot {snapshot.name} is missing; generate it and commit it")
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(sql, encoding="utf-8")
    assert sql == snapshot.read_text(encoding="utf-8"), (
        f"generated SQL changed for {name} ({layout}); review the diff and regenerate with "
        "LEADGATE_UPDATE_SNAPSHOTS=1"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot_sql_runs_on_empty_inputs(name: str) -> None:
    sql = (SNAPSHOTS / f"{name}.flat.duckdb.sql").read_text(encoding="utf-8")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events (lead_id VARCHAR, type VARCHAR, ts TIMESTAMPTZ, event_id VARCHAR, "
        "channel VARCHAR, campaign VARCHAR, url VARCHAR, asset_type VARCHAR)"
    )
    con.execute(
        "CREATE TABLE leads (lead_id VARCHAR, account_id VARCHAR, email VARCHAR, "
        "seniority VARCHAR, predicted DOUBLE)"
    )
    con.execute(
        "CREATE TABLE accounts (account_id VARCHAR, employees BIGINT, country VARCHAR, "
        "industry VARCHAR)"
    )
    con.execute("INSERT INTO leads VALUES ('a', NULL, NULL, NULL, NULL)")
    rows = con.execute(sql).fetchall()
    assert len(rows) == 1 and rows[0][0] == "a"
