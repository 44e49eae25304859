"""Benchmark: rescore 1,000,000 leads / 50,000,000 events with the compiled query.

Generates (once, cached in ``--dir``) a seeded world with
:func:`leadgate.engines.synthetic.write_world`: leads in accounts, a year of
skewed activity over a dozen event types, page URLs with a pricing share. Then,
on the same Parquet files and in alternating fresh processes (so each peak
memory figure is that run's alone):

* the reference: the hand-written DuckDB query in ``bench/reference_default_model.sql``;
* leadgate: the shipped default model compiled by ``leadgate.engines`` and run by
  ``DuckDBEngine`` (registering the files, compiling, validating keys, running).

It prints the median time of each, the ratio, each peak RSS, and checks that
both give the same rows (grades and MQL verdicts equal, scores within 1e-9
relative). ``--spark-events N`` also runs leadgate on Spark ``local[2]`` against
DuckDB on a smaller world and checks the same.

    .venv/bin/python bench/rescore.py                       # the full benchmark
    .venv/bin/python bench/rescore.py --events 5000000 --leads 100000 --accounts 10000
    .venv/bin/python bench/rescore.py --spark-events 5000000 --skip-duckdb
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def world_dir(base: Path, leads: int, accounts: int, events: int, seed: int) -> Path:
    return base / f"world-{leads}-{accounts}-{events}-{seed}"


def ensure_world(base: Path, leads: int, accounts: int, events: int, seed: int) -> Path:
    """Generate the world once; later runs reuse the files."""
    from leadgate.engines.synthetic import write_world

    directory = world_dir(base, leads, accounts, events, seed)
    done = directory / "DONE"
    if not done.exists():
        started = time.perf_counter()
        print(f"generating {events:,} events for {leads:,} leads in {directory} ...", flush=True)
        write_world(directory, leads=leads, accounts=accounts, events=events, seed=seed)
        done.write_text("ok")
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    return directory


def run_one(kind: str, directory: Path, out: Path, spark_master: str) -> dict[str, Any]:
    """Inside a fresh process: run one rescoring, write its rows, report time and memory."""
    from leadgate.engines.synthetic import WorldFiles
    from leadgate.reference import free_mail_domains
    from leadgate.scoring import default_model

    files = WorldFiles(
        events=directory / "events.parquet",
        leads=directory / "leads.parquet",
        accounts=directory / "accounts.parquet",
        as_of=_as_of(),
        csv={},
    )
    model = default_model()
    started = time.perf_counter()
    if kind == "reference":
        import duckdb

        from leadgate.engines.compiler import _epoch_us

        sql = (
            (HERE / "reference_default_model.sql")
            .read_text()
            .format(
                events=files.events,
                leads=files.leads,
                accounts=files.accounts,
                as_of_us=_epoch_us(files.as_of),
                free_mail=", ".join(f"'{d}'" for d in sorted(free_mail_domains())),
            )
        )
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        table = con.sql(sql).to_arrow_table()
    else:
        if kind == "compiled":
            from leadgate.engines import DuckDBEngine

            engine: Any = DuckDBEngine()
        else:
            from leadgate.engines.spark_engine import SparkEngine

            engine = SparkEngine(master=spark_master)
        table = engine.rescore(
            model,
            as_of=files.as_of,
            events=files.events,
            leads=files.leads,
            accounts=files.accounts,
        )
        engine.close()
    seconds = time.perf_counter() - started
    pq.write_table(table, out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Spark's JVM
    return {
        "kind": kind,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "jvm_peak_mb": children_kb / 1024,
        "rows": table.num_rows,
        "mqls": sum(table.column("mql").to_pylist()),
    }


def _as_of() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


def spawn(kind: str, directory: Path, out: Path, spark_master: str) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--run",
        kind,
        "--world",
        str(directory),
        "--out",
        str(out),
        "--spark-master",
        spark_master,
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(left: Path, right: Path) -> dict[str, Any]:
    """Same leads in the same order, same grades and verdicts, scores within 1e-9."""
    a, b = pq.read_table(left), pq.read_table(right)
    assert a.column("lead_id").equals(b.column("lead_id")), "lead ids differ"
    assert a.column("grade").to_pylist() == b.column("grade").to_pylist(), "grades differ"
    assert a.column("mql").to_pylist() == b.column("mql").to_pylist(), "MQL verdicts differ"
    worst = 0.0
    exact = total = 0
    for name in ("fit", "engagement", "account_engagement"):
        for x, y in zip(a.column(name).to_pylist(), b.column(name).to_pylist(), strict=True):
            total += 1
            if x == y:
                exact += 1
                continue
            rel = abs(x - y) / max(abs(x), abs(y))
            worst = max(worst, rel)
    assert worst <= 1e-9, f"scores differ by up to {worst:.3g} relative"
    return {"identical_scores": exact, "scores": total, "worst_relative_difference": worst}


def bench_pair(
    directory: Path, kinds: tuple[str, str], repeat: int, spark_master: str, out_dir: Path
) -> None:
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for round_ in range(repeat):
        for kind in kinds if round_ % 2 == 0 else tuple(reversed(kinds)):
            result = spawn(kind, directory, out_dir / f"{kind}.parquet", spark_master)
            runs[kind].append(result)
            print(
                f"  {kind:>9}: {result['seconds']:7.2f} s, peak {result['peak_mb']:7.0f} MB"
                + (f" (JVM {result['jvm_peak_mb']:.0f} MB)" if result["jvm_peak_mb"] else "")
                + f", {result['mqls']:,} MQLs",
                flush=True,
            )
    check = compare(out_dir / f"{kinds[0]}.parquet", out_dir / f"{kinds[1]}.parquet")
    medians = {kind: statistics.median(r["seconds"] for r in runs[kind]) for kind in kinds}
    peaks = {kind: max(r["peak_mb"] + r["jvm_peak_mb"] for r in runs[kind]) for kind in kinds}
    base, other = kinds
    print(
        json.dumps(
            {
                "median_seconds": {k: round(v, 2) for k, v in medians.items()},
                "ratio": round(medians[other] / medians[base], 3),
                "peak_mb": {k: round(v) for k, v in peaks.items()},
                "rows": runs[base][0]["rows"],
                "mqls": runs[base][0]["mqls"],
                **check,
            },
            indent=2,
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "leadgate-bench")
    parser.add_argument("--spark-events", type=int, default=0)
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--run", choices=["reference", "compiled", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.world, args.out, args.spark_master)))
        return
    out_dir = Path(tempfile.mkdtemp(prefix="leadgate-bench-out-"))
    if not args.skip_duckdb:
        directory = ensure_world(args.dir, args.leads, args.accounts, args.events, args.seed)
        print(f"reference vs compiled, {args.events:,} events, {args.repeat} runs each:")
        bench_pair(directory, ("reference", "compiled"), args.repeat, args.spark_master, out_dir)
    if args.spark_events:
        leads = max(1, math.ceil(args.spark_events / 50))
        directory = ensure_world(args.dir, leads, max(1, leads // 10), args.spark_events, args.seed)
        print(f"DuckDB vs Spark {args.spark_master}, {args.spark_events:,} events:")
        bench_pair(
            directory, ("compiled", "spark"), max(1, args.repeat), args.spark_master, out_dir
        )


if __name__ == "__main__":
    main()
