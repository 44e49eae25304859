"""``leadgate rescore`` over Parquet and CSV files."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from leadgate.cli import app
from leadgate.scoring import default_model
from tests.engines.worlds import AS_OF, adjustments_table, evaluate_tables, events_table, table

runner = CliRunner()


def _inputs() -> tuple[pa.Table, pa.Table, pa.Table]:
    rows = []
    for i, (lead, type_, age, url) in enumerate(
        [
            ("l1", "email.opened", 1, None),
            ("l1", "email.clicked", 2, None),
            ("l1", "page.viewed", 1, "/pricing"),
            ("l1", "webinar.attended", 3, None),
            ("l2", "email.opened", 100, None),
            ("l3", "page.viewed", 1, "/blog"),
        ]
    ):
        rows.append(
            {
                "event_id": f"e{i}",
                "lead_id": lead,
                "type": type_,
                "ts": AS_OF - timedelta(days=age),
                "url": url,
            }
        )
    events = events_table(rows, url=pa.string())
    leads = table(
        [
            {"lead_id": "l1", "account_id": "a1", "seniority": "director", "email": "x@acme.cz"},
            {"lead_id": "l2", "account_id": "a1", "email": "y@gmail.com"},
            {"lead_id": "l3"},
        ],
        {
            "lead_id": pa.string(),
            "account_id": pa.string(),
            "seniority": pa.string(),
            "email": pa.string(),
        },
    )
    accounts = table(
        [{"account_id": "a1", "employees": 120, "country": "CZ", "industry": "manufacturing"}],
        {
            "account_id": pa.string(),
            "employees": pa.int64(),
            "country": pa.string(),
            "industry": pa.string(),
        },
    )
    return events, leads, accounts


def _write(tmp_path: Path, fmt: str) -> dict[str, Path]:
    paths = {}
    for name, data in zip(("events", "leads", "accounts"), _inputs(), strict=True):
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(data, path)
        else:
            pa_csv.write_csv(data, path)
        paths[name] = path
    return paths


def _model_file(tmp_path: Path) -> Path:
    from importlib import resources

    path = tmp_path / "model.yaml"
    path.write_text(
        resources.files("leadgate.scoring").joinpath("default_model.yaml").read_text("utf-8")
    )
    return path


def _args(paths: dict[str, Path], model: Path, out: Path, *extra: str) -> list[str]:
    return [
        "rescore",
        "--events",
        str(paths["events"]),
        "--leads",
        str(paths["leads"]),
        "--accounts",
        str(paths["accounts"]),
        "--model",
        str(model),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.parametrize(("fmt", "out_name"), [("parquet", "out.parquet"), ("csv", "out.csv")])
def test_rescore_files_writes_scores_grades_and_mql(
    tmp_path: Path, fmt: str, out_name: str
) -> None:
    paths = _write(tmp_path, fmt)
    out = tmp_path / out_name
    result = runner.invoke(app, _args(paths, _model_file(tmp_path), out, "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["leads"] == 3 and summary["engine"] == "duckdb"
    assert isinstance(summary["seconds"], float)
    written = pq.read_table(out) if fmt == "parquet" else pa_csv.read_csv(out)
    assert written.column_names == [
        "lead_id",
        "fit",
        "engagement",
        "account_engagement",
        "grade",
        "mql",
    ]
    events, leads, accounts = _inputs()
    expected = evaluate_tables(default_model(), events, leads, accounts, AS_OF)
    rows = {row["lead_id"]: row for row in written.to_pylist()}
    for lead_id, card in expected.items():
        assert rows[lead_id]["grade"] == card.grade
        assert bool(rows[lead_id]["mql"]) == card.mql
        for group, score in card.scores.items():
            assert rows[lead_id][group] == pytest.approx(score, rel=1e-9, abs=1e-9)
    assert summary["mqls"] == sum(card.mql for card in expected.values())
    assert summary["mqls"] == 1


def test_rescore_prints_a_summary(tmp_path: Path) -> None:
    paths = _write(tmp_path, "parquet")
    result = runner.invoke(app, _args(paths, _model_file(tmp_path), tmp_path / "o.parquet"))
    assert result.exit_code == 0, result.output
    assert "rescored 3 leads" in result.output and "1 MQLs" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing-file", "does not exist"),
        ("no-ts", "no column 'ts'"),
        ("bad-ts", "cannot"),
        ("bad-out", "unknown format"),
        ("spark-master", "applies to --engine spark only"),
        ("engine", "unknown engine 'postgres'"),
        ("duplicate-lead", "duplicate lead_id"),
    ],
)
def test_bad_input_gives_one_message_exit_2_and_no_output(
    tmp_path: Path, change: str, message: str
) -> None:
    paths = _write(tmp_path, "csv")
    out = tmp_path / "out.parquet"
    extra: list[str] = []
    if change == "missing-file":
        paths["events"] = tmp_path / "nope.parquet"
    elif change == "no-ts":
        paths["events"].write_text("lead_id,type\nl1,email.opened\n")
    elif change == "bad-ts":
        paths["events"].write_text("lead_id,type,ts\nl1,email.opened,yesterday\n")
    elif change == "bad-out":
        out = tmp_path / "out.xlsx"
    elif change == "spark-master":
        extra = ["--spark-master", "local[2]"]
    elif change == "engine":
        extra = ["--engine", "postgres"]
    elif change == "duplicate-lead":
        paths["leads"].write_text("lead_id\nl1\nl1\n")
    result = runner.invoke(app, _args(paths, _model_file(tmp_path), out, *extra))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))


def test_bad_input_with_json_is_a_json_error(tmp_path: Path) -> None:
    paths = _write(tmp_path, "parquet")
    paths["leads"] = tmp_path / "missing.csv"
    result = runner.invoke(app, _args(paths, _model_file(tmp_path), tmp_path / "o.csv", "--json"))
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and "does not exist" in payload["error"]["message"]


def test_spark_engine_writes_the_same_rows_as_duckdb(tmp_path: Path) -> None:
    """``--engine spark --spark-master local[2]``: same file content as DuckDB's."""
    pytest.importorskip("pyspark", reason="PySpark is not installed")
    paths = _write(tmp_path, "parquet")
    model = _model_file(tmp_path)
    outputs = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / f"{engine}.parquet"
        extra = ["--engine", engine, "--json"]
        if engine == "spark":
            extra += ["--spark-master", "local[2]"]
        result = runner.invoke(app, _args(paths, model, out, *extra))
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["engine"] == engine
        outputs[engine] = pq.read_table(out)
    assert outputs["spark"].schema == outputs["duckdb"].schema
    for spark_row, duck_row in zip(
        outputs["spark"].to_pylist(), outputs["duckdb"].to_pylist(), strict=True
    ):
        assert spark_row.keys() == duck_row.keys()
        for key, value in duck_row.items():
            if isinstance(value, float):
                assert spark_row[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert spark_row[key] == value, key


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_rescore_files_with_score_adjustments(tmp_path: Path, fmt: str) -> None:
    """--adjustments: l3 gets +60 engagement (counts) and +500 made after the instant
    (not yet), as the evaluator counts them."""
    paths = _write(tmp_path, fmt)
    adjustments = adjustments_table(
        [
            {"lead_id": "l3", "group_name": "engagement", "points": 60.0, "at": AS_OF},
            {
                "lead_id": "l3",
                "group_name": "engagement",
                "points": 500.0,
                "at": AS_OF + timedelta(seconds=1),
            },
        ]
    )
    path = tmp_path / f"adjustments.{fmt}"
    if fmt == "parquet":
        pq.write_table(adjustments, path)
    else:
        pa_csv.write_csv(adjustments, path)
    out = tmp_path / "out.parquet"
    args = _args(paths, _model_file(tmp_path), out, "--adjustments", str(path), "--json")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {row["lead_id"]: row for row in pq.read_table(out).to_pylist()}
    events, leads, accounts = _inputs()
    expected = evaluate_tables(default_model(), events, leads, accounts, AS_OF, adjustments)
    assert expected["l3"].scores["engagement"] == pytest.approx(60, abs=1)
    for lead_id, card in expected.items():
        assert rows[lead_id]["mql"] == card.mql
        for group, score in card.scores.items():
            assert rows[lead_id][group] == pytest.approx(score, rel=1e-9, abs=1e-9)
