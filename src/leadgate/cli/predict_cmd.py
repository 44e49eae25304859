"""``leadgate predict ...``: evaluate predictive models on lead files, with a leakage report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from leadgate.cli.output import EXIT_BAD_INPUT, JsonOption, console, emit_json, fail, guard

__all__ = ["app", "evaluate"]

app = typer.Typer(help="Predictive scoring: evaluate on history, spot leaks.", no_args_is_help=True)


def _columns(values: list[str] | None) -> list[str]:
    """``--drop a,b --drop c`` -> ``[a, b, c]``."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


@app.command("evaluate")
def evaluate(
    file: Path = typer.Argument(..., help="CSV or Parquet file, one row per lead."),
    target: str | None = typer.Option(None, "--target", help="Outcome column (yes/no, 1/0, ...)."),
    outcomes: Path | None = typer.Option(
        None, "--outcomes", help="Second file listing converted leads (e.g. closed deals)."
    ),
    key: str | None = typer.Option(None, "--key", help="Column linking FILE to --outcomes."),
    drop: list[str] | None = typer.Option(
        None, "--drop", help="Columns to leave out (comma-separated)."
    ),
    na_values: list[str] | None = typer.Option(
        None, "--na-values", help="Extra markers of a missing value."
    ),
    time_column: str | None = typer.Option(
        None, "--time-column", help="Time column for a time holdout; '@order' means the row order."
    ),
    categorical: list[str] | None = typer.Option(
        None, "--categorical", help="Force columns categorical."
    ),
    numeric: list[str] | None = typer.Option(None, "--numeric", help="Force columns numeric."),
    folds: int = typer.Option(5, "--folds", min=2, max=20, help="Cross-validation folds."),
    seed: int = typer.Option(7, "--seed", help="Random seed (results are reproducible)."),
    leak_line: float = typer.Option(
        0.90,
        "--leak-line",
        min=0.5,
        max=1.0,
        help="Flag columns whose single-column AUC reaches this.",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse to train when a column is flagged."
    ),
    leakage: bool = typer.Option(
        True, "--leakage/--no-leakage", help="Compute the leakage report."
    ),
    as_json: bool = JsonOption,
) -> None:
    """ROC AUC, PR AUC, top-decile lift, Brier and calibration, by CV and time holdout."""
    from leadgate.predictive.dataset import load_dataset
    from leadgate.predictive.evaluation import evaluate_dataset
    from leadgate.predictive.leakage import leakage_report

    with guard(as_json):
        data = load_dataset(
            file,
            target=target,
            outcomes=outcomes,
            key=key,
            drop=_columns(drop),
            na_values=_columns(na_values),
            time_column=time_column,
            categorical=_columns(categorical),
            numeric=_columns(numeric),
        )
        leaks = leakage_report(data, line=leak_line, seed=seed) if leakage or strict else None
        if strict and leaks is not None and leaks["flagged"]:
            fail(
                f"refusing to train: likely leaks {', '.join(leaks['flagged'])} "
                f"(single-column AUC >= {leak_line}); drop them with --drop",
                as_json=as_json,
                detail={"leakage": leaks},
                code=EXIT_BAD_INPUT,
            )
        report = evaluate_dataset(data, folds=folds, seed=seed)
    if leaks is not None:
        report["leakage"] = leaks
    if as_json:
        emit_json({"ok": True, **report})
        return
    _render(report)


def _render(report: dict[str, Any]) -> None:
    console.print(
        f"[bold]{report['source']}[/]: {report['rows']:,} rows, {report['positives']:,} positive "
        f"({report['positives'] / report['rows']:.1%}); {len(report['numeric'])} numeric and "
        f"{len(report['categorical'])} categorical columns"
    )
    leaks = report.get("leakage")
    if leaks:
        leak_table = Table(
            "column",
            "single-column AUC",
            "CV AUC without",
            "drop",
            "flag",
            title=f"leakage report (all columns: CV AUC {leaks['cv_auc_all_columns']:.3f})",
        )
        for row in leaks["columns"][:12]:
            flag = (
                "LIKELY LEAK"
                if row["flagged"]
                else "dominant: check when recorded"
                if row["dominant"]
                else ""
            )
            leak_table.add_row(
                row["column"],
                f"{row['single_auc']:.3f}",
                f"{row['cv_auc_without']:.3f}",
                f"{row['drop']:+.3f}",
                flag,
                style="bold red" if flag else "",
            )
        console.print(leak_table)
    table = Table(
        "learner",
        "ROC AUC",
        "PR AUC",
        "lift top 10%",
        "Brier",
        "time holdout ROC AUC",
        title=f"{report['folds']}-fold stratified cross-validation",
    )
    for name, entry in report["models"].items():
        cv = entry["cross_validation"]
        holdout = entry.get("time_holdout")
        table.add_row(
            name + (" (best)" if name == report["best_learner"] else ""),
            f"{cv['roc_auc']:.3f}",
            f"{cv['pr_auc']:.3f}",
            f"{cv['lift_top_decile']:.2f}",
            f"{cv['brier']:.4f}",
            f"{holdout['roc_auc']:.3f}" if holdout else "-",
        )
    console.print(table)
    if "time_holdout" in report:
        chosen = report["time_holdout"]
        console.print(
            f"time holdout (train on the earliest 80 %, test on the latest 20 %): "
            f"{chosen['learner']} ROC AUC [bold]{chosen['roc_auc']:.3f}[/]"
        )
    best = report["models"][report["best_learner"]]["cross_validation"]
    calibration = Table(
        "bin", "rows", "predicted", "observed", title=f"calibration ({report['best_learner']})"
    )
    for index, row in enumerate(best["calibration"], start=1):
        calibration.add_row(
            str(index), str(row["count"]), f"{row['predicted']:.3f}", f"{row['observed']:.3f}"
        )
    console.print(calibration)


@app.command("train")
def train(
    outcome: str = typer.Option(
        "sql", "--outcome", help="sql or customer: what counts as converted."
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Features are taken as of this instant; outcomes after it, up to now, are the labels "
        "(default: 60 days ago).",
    ),
    name: str | None = typer.Option(None, "--name", help="Model name (default predicted-OUTCOME)."),
    seed: int = typer.Option(7, "--seed", help="Random seed (results are reproducible)."),
    as_json: bool = JsonOption,
) -> None:
    """Train a calibrated LightGBM model on the stored history, store it, and score every lead."""
    from datetime import UTC, datetime, timedelta

    from leadgate.cli.output import database, parse_as_of
    from leadgate.predictive.training import load_model, score_leads, train_model

    with guard(as_json):
        now = datetime.now(UTC)
        cutoff = parse_as_of(as_of) if as_of is not None else now - timedelta(days=60)
        db = database()
        try:
            with db.session() as session:
                result = train_model(
                    session, outcome=outcome, as_of=cutoff, until=now, seed=seed, name=name
                )
            with db.session() as session:
                scored = score_leads(
                    session, model=load_model(session, model_id=result.model_id), as_of=now
                )
        finally:
            db.dispose()
    payload = {
        "ok": True,
        "model": result.label,
        "outcome": outcome,
        "as_of": cutoff.isoformat(),
        "metrics": result.metrics,
        "warnings": list(result.warnings),
        "scored_leads": scored,
    }
    if as_json:
        emit_json(payload)
        return
    holdout = result.metrics["holdout"]
    console.print(
        f"trained [bold]{result.label}[/] on {result.metrics['rows']:,} leads "
        f"({result.metrics['positives']} reached {outcome} after {cutoff:%Y-%m-%d}); "
        f"held-out ROC AUC [bold]{holdout['roc_auc']:.3f}[/] "
        f"(logistic regression {result.metrics['holdout_linear_roc_auc']:.3f}), "
        f"Brier {holdout['brier']:.4f}"
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"scored {scored:,} leads; see a lead's factors with leadgate explain LEAD")


@app.command("scorecard")
def scorecard(
    out: Path = typer.Option(..., "--out", help="Where to write the model YAML."),
    outcome: str = typer.Option("sql", "--outcome", help="sql or customer."),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Features as of this instant, outcomes after it (default: 60 days ago).",
    ),
    mql_rate: float = typer.Option(
        0.05, "--mql-rate", help="Share of leads the threshold should qualify (0.05 = 5 %)."
    ),
    name: str = typer.Option(
        "learned-scorecard", "--name", help="Model name written into the file."
    ),
    version: int = typer.Option(1, "--version", min=1, help="Model version written into the file."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    as_json: bool = JsonOption,
) -> None:
    """Fit a sparse logistic model on history and write it as an editable points model."""
    from datetime import UTC, datetime, timedelta

    from leadgate.cli.output import database, parse_as_of
    from leadgate.exceptions import LeadgateError
    from leadgate.predictive.scorecard import fit_scorecard

    with guard(as_json):
        if out.exists() and not force:
            raise LeadgateError(f"{out} exists; pass --force to overwrite it")
        now = datetime.now(UTC)
        cutoff = parse_as_of(as_of) if as_of is not None else now - timedelta(days=60)
        db = database()
        try:
            with db.session() as session:
                result = fit_scorecard(
                    session,
                    outcome=outcome,
                    as_of=cutoff,
                    until=now,
                    mql_rate=mql_rate,
                    seed=seed,
                    name=name,
                    version=version,
                )
        finally:
            db.dispose()
        out.write_text(result.yaml_text, encoding="utf-8")
    if as_json:
        emit_json({"ok": True, "out": str(out), "model": result.model.label, **result.metrics})
        return
    m = result.metrics
    console.print(
        f"wrote [bold]{out}[/] ({result.model.label}): {m['rules']} rules, "
        f"MQL at {m['threshold']} points "
        f"({m['holdout_mql_share']:.1%} of held-out leads)"
    )
    console.print(
        f"held-out ROC AUC: scorecard in the rule engine {m['holdout_roc_auc_scorecard']:.3f}, "
        f"boosted model {m['holdout_roc_auc_boosted']:.3f} (gives up {m['auc_given_up']:+.3f})"
    )
