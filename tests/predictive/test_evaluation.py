"""Cross-validation, time holdout and the leakage report on synthetic data with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from leadgate.cli import app
from leadgate.predictive.dataset import load_dataset
from leadgate.predictive.evaluation import evaluate_dataset
from leadgate.predictive.leakage import leakage_report


def _synthetic(tmp_path: Path, rows: int = 1500, seed: int = 3) -> Path:
    """Outcome driven by 'visits' and 'industry'; 'after_call' is a leak (recorded after it)."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, rows)
    industry = rng.choice(["manufacturing", "retail", "software"], rows)
    logit = -3 + 0.6 * visits + np.where(industry == "manufacturing", 1.0, 0.0)
    y = rng.random(rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "visits": visits,
            "industry": industry,
            "noise": rng.normal(size=rows),
            "after_call": np.where(y, rng.normal(5, 1, rows), rng.normal(0, 1, rows)),
            "signed_up": pd.date_range("2025-01-01", periods=rows, freq="h").astype(str),
            "converted": np.where(y, "yes", "no"),
        }
    )
    path = tmp_path / "leads.csv"
    frame.to_csv(path, index=False)
    return path


class TestEvaluate:
    def test_both_learners_find_the_signal(self, tmp_path: Path) -> None:
        data = load_dataset(
            _synthetic(tmp_path), target="converted", drop=["after_call"], time_column="signed_up"
        )
        report = evaluate_dataset(data, folds=3)
        for learner in ("boosted", "linear"):
            assert report["models"][learner]["cross_validation"]["roc_auc"] > 0.7
        assert report["time_holdout"]["learner"] == "blend"
        assert report["time_holdout"]["rows"] == 300

    def test_same_seed_same_numbers(self, tmp_path: Path) -> None:
        data = load_dataset(
            _synthetic(tmp_path), target="converted", drop=["after_call", "signed_up"]
        )
        first = evaluate_dataset(data, folds=3, seed=11)
        second = evaluate_dataset(data, folds=3, seed=11)
        assert first["models"] == second["models"]


class TestLeakage:
    def test_leak_is_flagged_and_dominant(self, tmp_path: Path) -> None:
        data = load_dataset(_synthetic(tmp_path), target="converted", drop=["signed_up"])
        report = leakage_report(data)
        assert report["flagged"] == ["after_call"]
        top = report["columns"][0]
        assert top["column"] == "after_call" and top["single_auc"] > 0.95
        noise = next(row for row in report["columns"] if row["column"] == "noise")
        assert noise["single_auc"] < 0.6 and not noise["flagged"]

    def test_strict_refuses_to_train(self, tmp_path: Path, cli: CliRunner) -> None:
        path = _synthetic(tmp_path)
        result = cli.invoke(
            app, ["predict", "evaluate", str(path), "--target", "converted", "--strict", "--json"]
        )
        assert result.exit_code == 2
        payload = json.loads(result.stdout)
        assert "after_call" in payload["error"]["message"]

    def test_cli_json_has_the_headline_metrics(self, tmp_path: Path, cli: CliRunner) -> None:
        path = _synthetic(tmp_path, rows=800)
        result = cli.invoke(
            app,
            [
                "predict",
                "evaluate",
                str(path),
                "--target",
                "converted",
                "--drop",
                "after_call",
                "--time-column",
                "signed_up",
                "--folds",
                "3",
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        for key in ("roc_auc", "pr_auc", "lift_top_decile", "brier", "time_holdout", "leakage"):
            assert key in payload
