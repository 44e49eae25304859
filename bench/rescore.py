"""Benchmark: rescore 1,000,000 leads / 50,000,000 events with the compiled query.

Generates (once, cached in ``--dir``) a seeded world with
:func:`leadgate.engines.synthetic.write_world`: leads in accounts, a year of
skewed activity over a dozen event types, page URLs with a pricing share. Then,
on the same Parquet files and in alternating fresh processes (so each peak
memory figure is that run's alone: the resident memory of the process and its
children, Spark's JVM included, sampled every 100 ms, and the process's own
``ru_maxrss``):

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
    """Inside a fresh process: run one rescoring, write its rows, report time and memory.

    Imports happen before the clock starts, for both sides: the figure is the work.
    """
    import duckdb

    from leadgate.engines import DuckDBEngine
    from leadgate.engines.compiler import _epoch_us
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
    if kind == "spark":
        from leadgate.engines.spark_engine import SparkEngine
    started = time.perf_counter()
    if kind == "reference":
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
        engine: Any = DuckDBEngine() if kind == "compiled" else SparkEngine(master=spark_master)
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
    return {
        "kind": kind,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "rows": table.num_rows,
        "mqls": sum(table.column("mql").to_pylist()),
    }


def _as_of() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (Spark's JVM is a child)."""
    total, frontier, seen = 0, [root], set()
    while frontier:
        pid = frontier.pop()
        if pid in seen:
            continue
        seen.add(pid)
        proc = Path("/proc") / str(pid)
        try:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in (proc / "task").iterdir():
                frontier.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return total


def spawn(kind: str, directory: Path, out: Path, spark_master: str) -> dict[str, Any]:
    """Run one rescoring in a fresh process; sample its (and its children's) memory."""
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
    peak_kb = 0
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        while process.poll() is None:
            peak_kb = max(peak_kb, _tree_rss_kb(process.pid))
            time.sleep(0.1)
        stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{stderr[-3000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["tree_peak_mb"] = max(peak_kb / 1024, result["peak_mb"])
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
                f"  {kind:>9}: {result['seconds']:7.2f} s, peak {result['tree_peak_mb']:7.0f} MB"
                f" (Python process alone {result['peak_mb']:.0f} MB), {result['mqls']:,} MQLs",
                flush=True,
            )
    check = compare(out_dir / f"{kinds[0]}.parquet", out_dir / f"{kinds[1]}.parquet")
    medians = {kind: statistics.median(r["seconds"] for r in runs[kind]) for kind in kinds}
    peaks = {kind: max(r["tree_peak_mb"] for r in runs[kind]) for kind in kinds}
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
