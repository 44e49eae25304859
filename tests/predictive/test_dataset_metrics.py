"""Reading lead files for prediction, and the metrics reported on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadgate.exceptions import LeadgateError
from leadgate.predictive.dataset import binarize, load_dataset
from leadgate.predictive.metrics import calibration_table, lift_top_decile, summarize


class TestBinarize:
    @pytest.mark.parametrize(
        ("values", "expected"),
        [(["yes", "no", "YES"], [1, 0, 1]), (["1", "0"], [1, 0]), (["True", "false"], [1, 0])],
    )
    def test_common_spellings(self, values: list[str], expected: list[int]) -> None:
        assert binarize(pd.Series(values), "y").tolist() == expected

    def test_three_values_are_refused(self) -> None:
        with pytest.raises(LeadgateError, match="must have two values"):
            binarize(pd.Series(["a", "b", "c"]), "y")

    def test_two_unknown_values_are_named(self) -> None:
        with pytest.raises(LeadgateError, match="write them as yes/no"):
            binarize(pd.Series(["won", "pending"]), "stage")


class TestLoadDataset:
    def test_kinds_drop_and_row_order(self, tmp_path: Path) -> None:
        path = tmp_path / "leads.csv"
        path.write_text("id,age,job,y\n1,30,it,yes\n2,40,sales,no\n3,50,it,no\n", encoding="utf-8")
        data = load_dataset(path, target="y", drop=["id"], time_column="@order")
        assert data.numeric == ("age",) and data.categorical == ("job",)
        assert data.target.tolist() == [1, 0, 0]
        assert data.time is not None and data.time.tolist() == [0, 1, 2]

    def test_outcomes_file_joins_on_key(self, tmp_path: Path) -> None:
        leads = tmp_path / "mqls.csv"
        leads.write_text("mql_id,origin\na,social\nb,paid\nc,social\n", encoding="utf-8")
        deals = tmp_path / "deals.csv"
        deals.write_text("mql_id,won_date\nb,2018-01-01\n", encoding="utf-8")
        data = load_dataset(leads, target=None, outcomes=deals, key="mql_id")
        assert data.target.tolist() == [0, 1, 0]
        assert "mql_id" not in data.features.columns

    def test_unknown_column_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "x.csv"
        path.write_text("a,y\n1,yes\n2,no\n", encoding="utf-8")
        with pytest.raises(LeadgateError, match="--drop: no column 'b'"):
            load_dataset(path, target="y", drop=["b"])


class TestMetrics:
    def test_lift_top_decile(self) -> None:
        """Top 10 % of 20 rows = 2 rows, both positive; base rate 4/20 -> lift 5."""
        y = np.array([1, 1] + [0] * 16 + [1, 1])
        p = np.array([0.9, 0.8] + [0.1] * 16 + [0.05, 0.05])
        assert lift_top_decile(y, p) == pytest.approx(5.0)

    def test_calibration_bins_cover_all_rows(self) -> None:
        rng = np.random.default_rng(1)
        p = rng.random(1000)
        y = (rng.random(1000) < p).astype(int)
        table = calibration_table(y, p)
        assert sum(row["count"] for row in table) == 1000
        assert table[-1]["observed"] > table[0]["observed"]

    def test_summary_keys(self) -> None:
        summary = summarize(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8]))
        assert summary["roc_auc"] == 1.0
        assert {"pr_auc", "lift_top_decile", "brier", "calibration"} <= set(summary)
