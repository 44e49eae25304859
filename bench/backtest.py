"""Benchmark: the point-in-time backtest replay against re-scoring every day from scratch.

Generates (once, cached in ``--dir``) a seeded world with
:func:`leadgate.engines.synthetic.write_world`, reads its Parquet files into Arrow
tables and, in one process:

* times :func:`leadgate.backtest.replay.replay` of the shipped default model up
  to the world's end (the whole replay: candidate days, windows, every checkpoint
  query), and prints the leads, events, checkpoints evaluated, windows, whether
  every day had to be checked, the seconds (and each window's), and how many leads
  qualified (``first_mql_times``);
* as the baseline, runs the ordinary rescore (``DuckDBEngine().rescore``: every
  lead, at one instant) at the end of ``--sample-days`` evenly spaced days of the
  replayed span, and extrapolates its mean time to every day of the span; prints
  the ratio naive / replay;
* checks, on those sampled days and on the ``--check-days`` days on which the most
  leads first qualified in the replay, that no lead is an MQL in the full rescore at
  the end of the day while the replay says it had not qualified by then, and that
  every lead whose first MQL the replay puts at that instant is an MQL in the rescore;
* prints the peak RSS of the process (``ru_maxrss``) after each stage.

By default it runs the demo-scale world (2,400 leads, 360 accounts, 25,000 events,
180 days) and then the large one (100,000 leads, 10,000 accounts, 5,000,000 events,
365 days, or what the flags say):

    .venv/bin/python bench/backtest.py                       # small, then 100k / 5M
    .venv/bin/python bench/backtest.py --small               # the demo scale only
    .venv/bin/python bench/backtest.py --skip-small --leads 1000000 --accounts 100000 \\
        --events 50000000
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadgate.backtest.replay import DAY_US, ReplayInput, day_end, epoch_us, replay
from leadgate.backtest.service import first_mql_times
from leadgate.engines import DuckDBEngine
from leadgate.engines.synthetic import write_world
from leadgate.scoring import default_model

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
SMALL = {"leads": 2_400, "accounts": 360, "events": 25_000, "days": 180}


@dataclass(frozen=True)
class Size:
    leads: int
    accounts: int
    events: int
    days: int
    seed: int

    @property
    def label(self) -> str:
        return f"{self.leads}-{self.accounts}-{self.events}-{self.days}-{self.seed}"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_world(base: Path, size: Size) -> tuple[Path, datetime]:
    """Generate the world once; later runs reuse the files (``DONE`` holds its end)."""
    directory = base / f"leadgate-bench-backtest-{size.label}"
    done = directory / "DONE"
    if done.exists():
        print(f"reusing {directory}", flush=True)
        return directory, datetime.fromisoformat(done.read_text().strip())
    started = time.perf_counter()
    print(
        f"generating {size.events:,} events for {size.leads:,} leads over {size.days} days "
        f"in {directory} ...",
        flush=True,
    )
    files = write_world(
        directory,
        leads=size.leads,
        accounts=size.accounts,
        events=size.events,
        days=size.days,
        seed=size.seed,
        as_of=AS_OF,
    )
    done.write_text(files.as_of.isoformat())
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    return directory, files.as_of


def read_world(directory: Path) -> ReplayInput:
    events = pq.read_table(directory / "events.parquet")
    leads = pq.read_table(directory / "leads.parquet")
    accounts = pq.read_table(directory / "accounts.parquet")
    starts = None
    for column in ("created_at", "created"):
        if column in leads.column_names:
            starts = leads.select(["lead_id", column]).rename_columns(["lead_id", "start"])
            break
    return ReplayInput(events=events, leads=leads, accounts=accounts, starts=starts)


def replayed_days(data: ReplayInput, end: datetime) -> tuple[int, int]:
    """First and last day of the replay: the earliest day a lead exists, the end's day."""
    model = default_model()
    engine = DuckDBEngine()
    try:
        engine.register("events", data.events)
        engine.register("leads", data.leads)
        types = list(engine.compile(model, end).event_types)
    finally:
        engine.close()
    ts = data.events.filter(pc.is_in(data.events.column("type"), pa.array(types))).column("ts")
    earliest = [pc.min(ts).as_py()]
    if data.starts is not None:
        earliest.append(pc.min(data.starts.column("start")).as_py())
    first = min(epoch_us(moment) for moment in earliest if moment is not None) // DAY_US
    return first, epoch_us(end) // DAY_US


def bench(size: Size, base: Path, sample_days: int, check_days: int) -> None:
    print(
        f"== world {size.leads:,} leads, {size.accounts:,} accounts, {size.events:,} events, "
        f"{size.days} days ==",
        flush=True,
    )
    directory, end = ensure_world(base, size)
    started = time.perf_counter()
    data = read_world(directory)
    print(
        f"read {data.leads.num_rows:,} leads, {data.events.num_rows:,} events in "
        f"{time.perf_counter() - started:.2f} s (starts: "
        f"{'from the leads file' if data.starts is not None else 'first event'}); "
        f"peak RSS {peak_mb():.0f} MB",
        flush=True,
    )
    model = default_model()

    # -- the replay ------------------------------------------------------------------------
    ticks: list[tuple[float, float]] = []
    clock = [time.perf_counter()]

    def progress(percent: float) -> None:
        now = time.perf_counter()
        ticks.append((percent, now - clock[0]))
        print(f"  window {len(ticks):3d}: {percent:5.1f} %  {now - clock[0]:7.2f} s", flush=True)
        clock[0] = now

    print(f"replay of {model.label} up to {end.isoformat()} ...", flush=True)
    clock[0] = time.perf_counter()
    result = replay(model, data, end=end, progress=progress)
    first = first_mql_times(result)
    print(f"  peak RSS after the replay {peak_mb():.0f} MB", flush=True)
    first_day, end_day = replayed_days(data, end)
    span = end_day - first_day + 1
    slowest = max(range(len(ticks)), key=lambda i: ticks[i][1]) if ticks else -1

    # -- the baseline: every lead, on sampled days, from scratch ------------------------------
    count = max(1, min(sample_days, span))
    steps = [first_day + round(i * (span - 1) / max(1, count - 1)) for i in range(count)]
    days = sorted(set(steps))
    first_us = {lead: epoch_us(moment) for lead, moment in first.items()}
    # and, for the check only, the days on which the most leads first qualified
    by_day: dict[int, int] = {}
    for at in first_us.values():
        by_day[at // DAY_US] = by_day.get(at // DAY_US, 0) + 1
    busiest = sorted(by_day, key=lambda d: (-by_day[d], d))
    extra = sorted([d for d in busiest if d not in days][: max(0, check_days)])
    seconds: list[float] = []
    checked = exact = naive_mqls = 0
    print(
        f"naive rescore on {len(days)} of {span} days (timed), and {len(extra)} more "
        "(checked only) ...",
        flush=True,
    )
    for day in sorted(days + extra):
        instant = min(day_end(day), end)
        instant_us = epoch_us(instant)
        t0 = time.perf_counter()
        engine = DuckDBEngine()
        try:
            table = engine.rescore(
                model,
                as_of=instant,
                events=data.events,
                leads=data.leads,
                accounts=data.accounts,
            )
        finally:
            engine.close()
        took = time.perf_counter() - t0
        if day in days:
            seconds.append(took)
        mql_now = set(table.filter(pc.field("mql")).column("lead_id").to_pylist())
        not_yet = sorted(
            lead for lead in mql_now if lead not in first_us or first_us[lead] > instant_us
        )
        assert not not_yet, (
            f"day {instant.date()}: {len(not_yet)} lead(s) are MQLs in the full rescore but "
            f"not yet qualified in the replay, e.g. {not_yet[:5]}"
        )
        first_here = {lead for lead, at in first_us.items() if at == instant_us}
        missing = sorted(first_here - mql_now)
        assert not missing, (
            f"day {instant.date()}: {len(missing)} lead(s) first qualify at this instant in the "
            f"replay but are not MQLs in the full rescore, e.g. {missing[:5]}"
        )
        checked += len(mql_now)
        exact += len(first_here)
        if day == end_day:
            naive_mqls = len(mql_now)
        print(
            f"  {instant.date()}{'' if day in days else ' (check only)'}: {took:6.2f} s, "
            f"{table.num_rows:,} rows, {len(mql_now):,} MQLs at day end, "
            f"{len(first_here):,} first MQL that day",
            flush=True,
        )
    per_day = statistics.mean(seconds)
    naive = per_day * span

    # -- the figures ---------------------------------------------------------------------------
    print(f"leads:                  {data.leads.num_rows:,}")
    print(f"events:                 {data.events.num_rows:,}")
    print(f"days replayed:          {span} ({day_end(first_day).date()} .. {end.date()})")
    print(f"checkpoints evaluated:  {result.checkpoints:,}")
    print(f"windows:                {result.windows}")
    print(f"every day checked:      {result.every_day}")
    print(f"replay seconds:         {result.seconds:.2f}")
    if slowest >= 0:
        print(
            f"slowest window:         #{slowest + 1} ({ticks[slowest][1]:.2f} s, up to "
            f"{ticks[slowest][0]:.1f} %; window 1 includes the setup)"
        )
    print(f"leads qualified:        {len(first):,} (hit rows kept {result.hits.num_rows:,})")
    print(f"naive per-day rescore:  {per_day:.2f} s (mean of {len(days)} days)")
    print(f"naive estimate:         {naive:.1f} s ({per_day:.2f} s x {span} days)")
    print(f"ratio naive / replay:   {naive / result.seconds:.1f}x")
    print(
        f"correctness:            OK on {len(days) + len(extra)} days ({checked:,} day-end "
        f"MQLs all qualified by then in the replay; {exact:,} first-MQL instants confirmed; "
        f"{naive_mqls:,} MQLs at the replay's end)"
    )
    print(f"peak RSS:               {peak_mb():.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--sample-days", type=int, default=7)
    parser.add_argument("--check-days", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="only the demo-scale world")
    parser.add_argument("--skip-small", action="store_true", help="only the large world")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    sizes = []
    if not args.skip_small:
        sizes.append(Size(seed=args.seed, **SMALL))
    if not args.small:
        sizes.append(Size(args.leads, args.accounts, args.events, args.days, args.seed))
    for size in sizes:
        bench(size, args.dir, args.sample_days, args.check_days)


if __name__ == "__main__":
    main()
