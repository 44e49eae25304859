"""Charts of the funnel report as one PNG: the funnel, MQL to SQL by a breakdown, and
the score distribution of leads that reached SQL against those that did not.

The chart data (:func:`chart_data`) is plain JSON-ready values, so a dashboard can
draw the same pictures; :func:`render_png` draws them with matplotlib, headless.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leadgate.reports.funnel import TYPICAL_MQL_TO_SQL, FunnelReport

__all__ = ["PNG_SIZE", "chart_data", "render_png"]

#: Width and height of the PNG in pixels.
PNG_SIZE = (1500, 500)
_DPI = 100


def chart_data(
    report: FunnelReport,
    scores: Mapping[str, Mapping[str, float]] | None = None,
    reached_sql: set[str] | None = None,
    score_group: str | None = None,
) -> dict[str, Any]:
    """The three charts' values: funnel counts, conversion per group, scores by outcome."""
    funnel = [
        {"stage": s["stage"], "leads": s["entered"]}
        for s in report.overall["stages"]
        if s["entered"] or s["stage"] not in ("subscriber",)
    ]
    conversion = []
    for group in report.groups:
        rate = next(
            c["rate"] for c in group["conversions"] if c["from"] == "mql" and c["to"] == "sql"
        )
        cohort = next(
            c["cohort"] for c in group["conversions"] if c["from"] == "mql" and c["to"] == "sql"
        )
        if cohort:
            conversion.append({"value": str(group["value"]), "rate": rate, "mqls": cohort})
    distribution: dict[str, list[float]] = {"reached_sql": [], "not_reached": []}
    chosen = score_group
    if scores:
        if chosen is None:
            names = {name for card in scores.values() for name in card}
            chosen = (
                "engagement" if "engagement" in names else (sorted(names)[0] if names else None)
            )
        for lead_id, card in scores.items():
            if chosen is None or chosen not in card:
                continue
            key = "reached_sql" if reached_sql and lead_id in reached_sql else "not_reached"
            distribution[key].append(card[chosen])
    return {
        "funnel": funnel,
        "mql_to_sql_by": {"by": report.by, "groups": conversion},
        "scores_by_outcome": {"group": chosen, **distribution},
    }


def render_png(data: Mapping[str, Any], path: Path) -> None:
    """Draw the charts into ``path`` (PNG, :data:`PNG_SIZE` pixels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width, height = PNG_SIZE
    figure, (left, middle, right) = plt.subplots(
        1, 3, figsize=(width / _DPI, height / _DPI), dpi=_DPI
    )
    try:
        stages = [row["stage"] for row in data["funnel"]]
        counts = [row["leads"] for row in data["funnel"]]
        top = max(counts, default=0) or 1
        positions = list(range(len(stages)))[::-1]
        left.barh(
            positions,
            counts,
            left=[(top - count) / 2 for count in counts],
            color="#3b6ea5",
        )
        left.set_yticks(positions, stages)
        left.set_xticks([])
        for position, count in zip(positions, counts, strict=True):
            left.text((top + count) / 2 + top * 0.02, position, f"{count:,}", va="center")
        left.set_xlim(0, top * 1.15)
        left.set_title("funnel: leads entering each stage")

        groups = data["mql_to_sql_by"]["groups"]
        names = [group["value"] for group in groups]
        rates = [100 * (group["rate"] or 0.0) for group in groups]
        middle.bar(range(len(names)), rates, color="#5a9e6f")
        middle.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
        low, high = TYPICAL_MQL_TO_SQL
        middle.axhspan(100 * low, 100 * high, color="#f0c05a", alpha=0.3, label="typical 10-15 %")
        middle.set_ylabel("MQL to SQL, %")
        by = data["mql_to_sql_by"]["by"] or "all"
        middle.set_title(f"MQL to SQL by {by}")
        middle.legend(loc="upper right", fontsize=8)

        scores = data["scores_by_outcome"]
        series = [
            (scores["not_reached"], "did not reach SQL"),
            (scores["reached_sql"], "reached SQL"),
        ]
        values = [v for values, _ in series for v in values]
        if values:
            low_edge, high_edge = min(values), max(values)
            bins = 20 if high_edge > low_edge else 1
            for values, label in series:
                if values:
                    right.hist(
                        values,
                        bins=bins,
                        range=(low_edge, high_edge or 1),
                        alpha=0.6,
                        density=True,
                        label=label,
                    )
            right.legend(fontsize=8)
        right.set_title(f"{scores['group'] or 'score'} by outcome")
        right.set_xlabel("points")
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=_DPI)
    finally:
        plt.close(figure)
