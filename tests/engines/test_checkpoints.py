"""Checkpoint mode: each (lead, instant) row scores exactly as a run at that instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadgate.engines import DuckDBEngine, compile_model
from leadgate.engines.compiler import CHECKPOINT_COLUMN
from tests.engines.worlds import World, close, evaluate_tables, model_docs, model_from, worlds

_TINY = {
    "version": 1,
    "name": "m",
    "groups": {"fit": {"rules": [{"id": "r", "when": {"lead.country": "CZ"}, "points": 1}]}},
}
CHECKS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def run_checkpoints(
    model: Any, world: World, instants: list[datetime]
) -> dict[tuple[Any, int], dict[str, Any]]:
    lead_ids = world.leads.column("lead_id").to_pylist()
    checkpoints = pa.table(
        {
            "lead_id": pa.array(
                [lead for lead in lead_ids for _ in instants], type=world.leads["lead_id"].type
            ),
            CHECKPOINT_COLUMN: pa.array(
                [_epoch_us(moment) for _ in lead_ids for moment in instants], pa.int64()
            ),
        }
    )
    with DuckDBEngine(threads=1) as engine:
        engine.register("events", world.events)
        engine.register("leads", world.leads)
        if world.accounts is not None:
            engine.register("accounts", world.accounts)
        if world.adjustments is not None:
            engine.register("adjustments", world.adjustments)
        engine.con.register("checkpoints", checkpoints)
        query = compile_model(model, as_of=instants[0], schema=engine.schema(), checkpoints=True)
        table = engine.execute(query)
    assert table.column_names == list(query.output_columns)
    return {(row["lead_id"], row[CHECKPOINT_COLUMN]): row for row in table.to_pylist()}


class TestCheckpointMode:
    @CHECKS
    @given(
        doc=model_docs(),
        world=worlds(),
        offsets=st.lists(st.floats(-400, 30), min_size=1, max_size=3, unique=True),
    )
    def test_every_checkpoint_matches_the_evaluator_at_that_instant(
        self, doc: dict[str, Any], world: World, offsets: list[float]
    ) -> None:
        """Scores, grade and verdict of each (lead, instant) row equal a full evaluation then
        (score adjustments included: each counts from its ``at`` until its revocation)."""
        model = model_from(doc)
        # the relation holds each (lead, instant) once: equal instants are one checkpoint
        instants = sorted({world.as_of + timedelta(days=offset) for offset in offsets})
        got = run_checkpoints(model, world, instants)
        for moment in instants:
            expected = evaluate_tables(
                model, world.events, world.leads, world.accounts, moment, world.adjustments
            )
            for lead_id, card in expected.items():
                row = got[(lead_id, _epoch_us(moment))]
                for group in model.group_names:
                    assert close(row[group], card.scores[group]), (lead_id, moment, group)
                assert row["grade"] == card.grade
                assert row["mql"] == card.mql, (lead_id, moment, card.verdict())

    def test_a_lead_without_checkpoints_is_not_scored(self) -> None:
        """Only the leads named in the checkpoints relation appear in the output."""
        model = model_from(_TINY)
        leads = pa.table({"lead_id": ["a", "b"]})
        events = pa.table(
            {
                "lead_id": pa.array([], pa.string()),
                "type": pa.array([], pa.string()),
                "ts": pa.array([], pa.timestamp("us", tz="UTC")),
            }
        )
        world = World(events=events, leads=leads, accounts=None, as_of=datetime.now(UTC))
        with DuckDBEngine(threads=1) as engine:
            engine.register("events", world.events)
            engine.register("leads", world.leads)
            engine.con.register("checkpoints", pa.table({"lead_id": ["b"], CHECKPOINT_COLUMN: [0]}))
            query = compile_model(
                model, as_of=world.as_of, schema=engine.schema(), checkpoints=True
            )
            rows = engine.execute(query).to_pylist()
        assert [(row["lead_id"], row[CHECKPOINT_COLUMN]) for row in rows] == [("b", 0)]


@pytest.mark.parametrize("checkpoints", [False, True])
def test_the_query_names_its_instant(checkpoints: bool) -> None:
    model = model_from(_TINY)
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    sql = compile_model(model, as_of=moment, checkpoints=checkpoints).sql
    assert ("each checkpoint" in sql.splitlines()[0]) is checkpoints
