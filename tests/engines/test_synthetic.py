"""The seeded synthetic world: reproducible, shaped like real activity, and scored by
DuckDB exactly as the evaluator scores it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from leadgate.engines import DuckDBEngine
from leadgate.engines.checks import ids_unique
from leadgate.engines.synthetic import EVENT_MIX, write_world
from leadgate.scoring import default_model
from tests.engines.worlds import assert_parity


class TestWriteWorld:
    def test_same_seed_same_files(self, tmp_path: Path) -> None:
        """Benchmarks compare runs on identical data."""
        first = write_world(tmp_path / "a", leads=300, accounts=40, events=5000, seed=3)
        second = write_world(tmp_path / "b", leads=300, accounts=40, events=5000, seed=3)
        for role in ("events", "leads", "accounts"):
            assert pq.read_table(getattr(first, role)).equals(pq.read_table(getattr(second, role)))

    def test_activity_is_skewed_and_types_are_mixed(self, tmp_path: Path) -> None:
        world = write_world(tmp_path, leads=2000, accounts=200, events=100_000)
        events = pq.read_table(world.events)
        assert events.num_rows == 100_000
        per_lead = Counter(events.column("lead_id").to_pylist())
        busiest = sum(count for _, count in per_lead.most_common(200))  # top 10 % of leads
        assert busiest / events.num_rows > 0.4
        types = Counter(events.column("type").cast(pa.string()).to_pylist())
        assert set(types) == {name for name, _ in EVENT_MIX}
        pages = events.filter(pc.equal(events.column("type").cast(pa.string()), "page.viewed"))
        urls = pages.column("url").cast(pa.string()).to_pylist()
        assert None not in urls
        pricing = sum("/pricing" in url for url in urls) / len(urls)
        assert 0.05 < pricing < 0.2
        ts = events.column("ts")
        assert pc.max(ts).as_py() <= world.as_of
        assert (world.as_of - pc.min(ts).as_py()).days >= 300

    def test_csv_copies_hold_the_same_rows(self, tmp_path: Path) -> None:
        world = write_world(tmp_path, leads=50, accounts=5, events=500, csv=True)
        with DuckDBEngine() as parquet, DuckDBEngine() as csv:
            a = parquet.rescore(
                default_model(),
                as_of=world.as_of,
                events=world.events,
                leads=world.leads,
                accounts=world.accounts,
            )
            b = csv.rescore(default_model(), as_of=world.as_of, **world.csv)
        assert a.equals(b)

    def test_refuses_an_empty_world(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="at least one lead"):
            write_world(tmp_path, leads=0)


def test_duckdb_scores_the_world_as_the_evaluator_does(tmp_path: Path) -> None:
    """Rollups over accounts with many contacts, free-mail leads, a year of decay."""
    world = write_world(tmp_path, leads=400, accounts=30, events=8000, seed=11)
    got = assert_parity(
        default_model(),
        pq.read_table(world.events),
        pq.read_table(world.leads),
        pq.read_table(world.accounts),
        world.as_of,
    )
    assert any(row["mql"] for row in got.values())


class TestIdsUnique:
    @pytest.mark.parametrize(
        ("ids", "unique"),
        [
            ([], True),
            (["a"], True),
            (["a", "b", "c"], True),
            (["a", "b", "b"], False),
            (["a", None], False),
        ],
    )
    def test_sorted_ids(self, ids: list[str | None], unique: bool) -> None:
        assert ids_unique(pa.table({"lead_id": pa.array(ids, type=pa.string())})) is unique
