"""``leadgate tune``: sweep one group's MQL threshold over the replayed history.

One replay serves every threshold: the model is replayed with the threshold test
taken out of the MQL definition (the rest must still hold), keeping each day's
score of the group; a lead's first MQL day at threshold *t* is then its first
kept day with a score of at least *t*. A lead stops being checked once its score
clears the highest threshold of the sweep.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from leadgate.backtest.metrics import ModelScore, Period, score_mqls
from leadgate.backtest.outcomes import resolve_outcomes
from leadgate.backtest.replay import replay
from leadgate.backtest.service import BacktestData, period_end
from leadgate.backtest.shape import model_shape
from leadgate.common.sql import quote_ident
from leadgate.engines.compiler import CHECKPOINT_COLUMN
from leadgate.exceptions import LeadgateError
from leadgate.scoring import load_model
from leadgate.scoring.nodes import AllOf, Op, RuleGroup, ScoreTest, ScoringModel
from leadgate.scoring.yamldoc import Located, load_yaml

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = ["SweepPoint", "TuneResult", "sweep_thresholds", "threshold_test", "write_threshold"]


def threshold_test(model: ScoringModel, group: str) -> tuple[ScoreTest, AllOf]:
    """The ``score: GROUP, gte|gt: N`` test of the MQL definition and the rest of it."""
    mql = model.mql
    if mql is None:
        raise LeadgateError(f"{model.label} has no MQL definition to tune")
    if group not in model.group_names:
        raise LeadgateError(
            f"--group {group}: {model.label} has groups {', '.join(model.group_names)}"
        )
    children = mql.children if isinstance(mql, AllOf) else (mql,)
    tests = [
        child
        for child in children
        if isinstance(child, ScoreTest) and child.groups == (group,) and child.op in (Op.GTE, Op.GT)
    ]
    if len(tests) != 1:
        raise LeadgateError(
            f"--group {group}: the MQL definition must hold exactly one "
            f"`{{score: {group}, gte: N}}` test (alone or directly under `all`) to tune; "
            f"found {len(tests)}"
        )
    test = tests[0]
    rest = AllOf(tuple(child for child in children if child is not test))
    return test, rest


@dataclass(frozen=True)
class SweepPoint:
    """One threshold's replayed outcome."""

    threshold: float
    score: ModelScore

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "mqls": self.score.totals.mqls,
            "mqls_per_week": round(self.score.mqls_per_week, 2),
            "precision": _round(self.score.totals.precision),
            "recall": _round(self.score.totals.recall),
            "reached_outcome": self.score.totals.reached,
        }


@dataclass(frozen=True)
class TuneResult:
    """The curve and the recommendation."""

    model: str
    group: str
    op: str
    current: float
    period: Period
    outcome: str
    points: list[SweepPoint]
    recommended: SweepPoint | None
    reason: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "group": self.group,
            "operator": self.op,
            "current_threshold": self.current,
            "period": {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()},
            "outcome": self.outcome,
            "curve": [point.to_dict() for point in self.points],
            "recommended": None if self.recommended is None else self.recommended.to_dict(),
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def default_thresholds(model: ScoringModel, group: str, current: float) -> list[float]:
    """About 30 round thresholds from a step up to twice the current (or the group's cap)."""
    spec = model.group(group)
    top = max(current * 2, current + 10)
    if isinstance(spec, RuleGroup) and spec.max_points is not None:
        top = min(top, spec.max_points)
    raw = top / 30
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    values = {round(step * i, 6) for i in range(1, int(top / step) + 1)}
    values.add(float(current))
    return sorted(values)


def sweep_thresholds(
    data: BacktestData,
    model: ScoringModel,
    *,
    group: str,
    outcome: str,
    period: Period,
    thresholds: Sequence[float] | None = None,
    target_mql_per_week: float | None = None,
    target_precision: float | None = None,
) -> TuneResult:
    """Replay once, then score every threshold; recommend one for the target."""
    if (target_mql_per_week is None) == (target_precision is None):
        raise LeadgateError("give exactly one of --target-mql-per-week and --target-precision")
    test, rest = threshold_test(model, group)
    current = float(test.operand)  # type: ignore[arg-type]
    chosen = sorted(set(thresholds)) if thresholds else default_thresholds(model, group, current)
    model_shape(model)  # the full definition must be replayable
    rest_model = dataclasses.replace(model, mql=rest)
    symbol = ">=" if test.op is Op.GTE else ">"
    column = quote_ident(group)
    outcomes = resolve_outcomes(data.history, outcome)
    result = replay(
        rest_model,
        data.replay,
        end=period_end(period),
        done=f'"mql" AND {column} {symbol} {max(chosen)!r}',
        shape=model_shape(model),
    )
    leads = data.history.leads
    channels = dict(
        zip(leads.column("lead_id").to_pylist(), leads.column("channel").to_pylist(), strict=True)
    )
    con = duckdb.connect()
    try:
        con.register("hits", result.hits)
        points = []
        for threshold in chosen:
            rows = con.execute(
                f"SELECT lead_id, min({CHECKPOINT_COLUMN}) FROM hits "
                f"WHERE {column} {symbol} ? GROUP BY lead_id",
                [threshold],
            ).fetchall()
            first = {lead: _EPOCH + timedelta(microseconds=us) for lead, us in rows}
            score = score_mqls(f"{group} {symbol} {threshold:g}", first, outcomes, channels, period)
            points.append(SweepPoint(threshold=threshold, score=score))
    finally:
        con.close()
    recommended, reason = _recommend(points, target_mql_per_week, target_precision)
    return TuneResult(
        model=model.label,
        group=group,
        op=test.op.value,
        current=current,
        period=period,
        outcome=outcome,
        points=points,
        recommended=recommended,
        reason=reason,
        seconds=result.seconds,
    )


def _recommend(
    points: list[SweepPoint], per_week: float | None, precision: float | None
) -> tuple[SweepPoint | None, str]:
    if per_week is not None:
        best = min(
            points,
            key=lambda p: (
                abs(p.score.mqls_per_week - per_week),
                -(p.score.totals.precision or 0.0),
                p.threshold,
            ),
        )
        return best, (
            f"closest to {per_week:g} MQLs per week ({best.score.mqls_per_week:.2f}); "
            "ties go to the higher precision"
        )
    assert precision is not None
    meeting = [p for p in points if (p.score.totals.precision or 0.0) >= precision]
    if not meeting:
        top = max(points, key=lambda p: (p.score.totals.precision or 0.0, -p.threshold))
        return None, (
            f"no threshold reaches a precision of {precision:.1%}; the best is "
            f"{top.threshold:g} with {(top.score.totals.precision or 0.0):.1%}"
        )
    best = min(meeting, key=lambda p: p.threshold)
    return best, (
        f"the lowest threshold with a precision of at least {precision:.1%}, "
        f"so the most outcome leads are caught (recall {(best.score.totals.recall or 0.0):.1%})"
    )


def _find_test(value: Any, path: tuple[str | int, ...], group: str) -> tuple[str | int, ...] | None:
    if isinstance(value, dict):
        score = value.get("score")
        if score in (group, [group]):
            for op in ("gte", "gt"):
                if op in value:
                    return (*path, op)
        for key, child in value.items():
            found = _find_test(child, (*path, key), group)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found = _find_test(child, (*path, index), group)
            if found is not None:
                return found
    return None


def _replace_on_line(text: str, line: int, key: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    pattern = re.compile(rf"(\b{re.escape(key)}\s*:\s*)([-+]?[0-9][0-9_.eE+-]*)")
    matches = list(pattern.finditer(lines[line - 1]))
    if len(matches) != 1:
        raise LeadgateError(
            f"cannot find exactly one '{key}: <number>' on line {line}; edit the file by hand"
        )
    match = matches[0]
    edited = lines[line - 1][: match.start(2)] + new + lines[line - 1][match.end(2) :]
    lines[line - 1] = edited
    return "".join(lines)


def write_threshold(
    source: Path, model: ScoringModel, group: str, threshold: float, out: Path
) -> ScoringModel:
    """Write ``source`` with the group's MQL threshold set and the version raised, comments kept."""
    text = source.read_text("utf-8")
    doc: Located = load_yaml(text, file=str(source))
    path = _find_test(
        doc.value.get("mql") if isinstance(doc.value, dict) else None, ("mql",), group
    )
    if path is None or path not in doc.lines or ("version",) not in doc.lines:
        raise LeadgateError(f"cannot locate the {group} threshold in {source}; edit it by hand")
    value = f"{threshold:g}"
    text = _replace_on_line(text, doc.lines[path], str(path[-1]), value)
    text = _replace_on_line(text, doc.lines[("version",)], "version", str(model.version + 1))
    written = load_model(text, file=str(out))
    test, _ = threshold_test(written, group)
    if float(test.operand) != threshold or written.version != model.version + 1:  # type: ignore[arg-type]
        raise LeadgateError(f"editing {source} did not give the intended model; edit it by hand")
    if out.exists():
        raise LeadgateError(f"{out} already exists; choose another --out")
    out.write_text(text, "utf-8")
    return written
