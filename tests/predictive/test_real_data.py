"""The published figures in docs/predictive.md, reproduced on the shared real data sets.

The data sets live beside the repository in ../shared/datasets/ (never in it);
each test skips with a clear message when its folder is absent. Results are
deterministic for a seed; the tolerance only absorbs floating-point noise.
"""

from __future__ import annotations

import pytest

from leadgate.predictive.dataset import load_dataset
from leadgate.predictive.evaluation import evaluate_dataset
from leadgate.predictive.leakage import leakage_report
from tests.conftest import datasets_dir

TOLERANCE = 0.003


class TestOlist:
    def test_origin_and_landing_page(self) -> None:
        """Published: CV ROC AUC 0.683 (blend), time holdout 0.702 (baseline 0.681 / 0.696)."""
        folder = datasets_dir("olist-marketing-funnel")
        data = load_dataset(
            folder / "olist_marketing_qualified_leads_dataset.csv",
            target=None,
            outcomes=folder / "olist_closed_deals_dataset.csv",
            key="mql_id",
            time_column="first_contact_date",
        )
        assert len(data.target) == 8000 and data.positives == 842
        report = evaluate_dataset(data)
        assert report["roc_auc"] == pytest.approx(0.6826, abs=TOLERANCE)
        assert report["time_holdout"]["roc_auc"] == pytest.approx(0.7019, abs=TOLERANCE)
        assert report["time_holdout"]["roc_auc"] >= 0.696


class TestBankMarketing:
    def test_without_duration(self) -> None:
        """Published: 5-fold ROC AUC 0.802 (boosted), time holdout 0.747 (blend), 0.748 (linear)."""
        folder = datasets_dir("uci-bank-marketing")
        data = load_dataset(
            folder / "bank-additional-full.csv", target="y", drop=["duration"], time_column="@order"
        )
        report = evaluate_dataset(data)
        assert report["best_learner"] == "boosted"
        assert report["roc_auc"] == pytest.approx(0.8023, abs=TOLERANCE)
        assert report["time_holdout"]["roc_auc"] == pytest.approx(0.7465, abs=TOLERANCE)
        linear = report["models"]["linear"]["time_holdout"]["roc_auc"]
        assert linear == pytest.approx(0.7483, abs=TOLERANCE)

    def test_leakage_report_shows_duration(self) -> None:
        """duration is known only after the call: dominant, with a large drop."""
        folder = datasets_dir("uci-bank-marketing")
        data = load_dataset(folder / "bank-additional-full.csv", target="y")
        report = leakage_report(data)
        top = report["columns"][0]
        assert top["column"] == "duration"
        assert top["single_auc"] == pytest.approx(0.818, abs=TOLERANCE)
        assert top["drop"] > 0.1
        assert report["dominant"] == ["duration"]


class TestOnlineShoppers:
    def test_all_features(self) -> None:
        """Published: 5-fold ROC AUC 0.933 (boosted; baseline 0.932)."""
        folder = datasets_dir("uci-online-shoppers-intention")
        data = load_dataset(folder / "online_shoppers_intention.csv", target="Revenue")
        report = evaluate_dataset(data)
        assert report["best_learner"] == "boosted"
        assert report["roc_auc"] == pytest.approx(0.9331, abs=TOLERANCE)

    def test_leakage_report_shows_page_values(self) -> None:
        folder = datasets_dir("uci-online-shoppers-intention")
        data = load_dataset(folder / "online_shoppers_intention.csv", target="Revenue")
        report = leakage_report(data)
        assert report["columns"][0]["column"] == "PageValues"
        assert report["columns"][0]["drop"] > 0.1
        assert "PageValues" in report["dominant"]
