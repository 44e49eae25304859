"""Benchmark: what handing off costs a batch path (``leadgate rescore --yes``).

Builds the demo world once (seed 7, 2,400 leads), then applies a looser model
(the shipped one with the engagement threshold at 5 instead of 60, so about 500
leads enter MQL) to a fresh copy of it, alternately with ``--handoff`` (owner,
task, webhook and sequence actions for every entry, as the service runs them)
and ``--no-handoff`` (the skip recorded on each entry), each as a whole
``leadgate`` process, and prints each mode's median wall time, the ratio, and
the cost per handoff.

    .venv/bin/python bench/handoff.py [--runs 5] [--leads 2400]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leadgate.demo.runner import build_demo

REPO = Path(__file__).resolve().parents[1]
LEADGATE = Path(sys.executable).with_name("leadgate")


def _loose_model(folder: Path) -> Path:
    text = (REPO / "src/leadgate/scoring/default_model.yaml").read_text(encoding="utf-8")
    loose = text.replace("{score: engagement, gte: 60}", "{score: engagement, gte: 5}")
    assert loose != text, "the shipped model's threshold moved: update this benchmark"
    path = folder / "loose.yaml"
    path.write_text(loose.replace("\nversion: 3", "\nversion: 4"), encoding="utf-8")
    return path


def _apply(base: Path, model: Path, flag: str) -> tuple[float, dict[str, object]]:
    target = base.with_name(f"run{flag}.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, target)
    env = {**os.environ, "LEADGATE_DATABASE_URL": f"sqlite:///{target}"}
    command = [str(LEADGATE), "rescore", "--model", str(model), "--yes", "--json", flag]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--leads", type=int, default=2400)
    args = parser.parse_args()
    flags = ("--handoff", "--no-handoff")
    times: dict[str, list[float]] = {flag: [] for flag in flags}
    answers: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "demo.db"
        build_demo(url=f"sqlite:///{base}", leads=args.leads, accounts=max(1, args.leads // 7))
        model = _loose_model(Path(folder))
        _apply(base, model, "--handoff")  # warm-up (file cache, imports)
        for _ in range(args.runs):
            for flag in flags:  # alternately, so a drift of the machine hits both
                took, answers[flag] = _apply(base, model, flag)
                times[flag].append(took)
    count = int(str(answers["--handoff"]["handed_off"]))
    print(f"leads entering MQL and handed off: {count:,}")
    print(f"actions: {answers['--handoff']['handoff_actions']}")
    medians = {flag: statistics.median(times[flag]) for flag in flags}
    for flag in flags:
        runs = ", ".join(f"{t:.2f}" for t in times[flag])
        print(f"{flag:<13} median {medians[flag]:.2f} s  (runs: {runs})")
    on, off = medians["--handoff"], medians["--no-handoff"]
    per_entry = (on - off) / max(count, 1) * 1000
    print(f"ratio {on / off:.2f}; handing off costs {per_entry:.1f} ms per entry")


if __name__ == "__main__":
    main()
