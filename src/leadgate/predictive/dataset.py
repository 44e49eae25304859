"""Tabular lead files for predictive work: reading, column kinds, and the binary target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leadgate.exceptions import LeadgateError

__all__ = ["ROW_ORDER", "Dataset", "binarize", "load_dataset"]

#: ``--time-column @order``: the file's row order is its time order.
ROW_ORDER = "@order"
_POSITIVE = {"1", "yes", "y", "true", "t", "won", "converted"}
_NEGATIVE = {"0", "no", "n", "false", "f", "lost"}


@dataclass(frozen=True)
class Dataset:
    """Features, a 0/1 target and, when known, a time order."""

    features: pd.DataFrame
    target: np.ndarray
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    time: pd.Series | None
    source: str

    @property
    def positives(self) -> int:
        return int(self.target.sum())


def binarize(values: pd.Series, name: str) -> np.ndarray:
    """Turn yes/no, true/false, 1/0 (any case) into 0/1; anything else is an error."""
    text = values.astype("string").str.strip().str.lower()
    if text.isna().any():
        raise LeadgateError(f"target column {name!r} has {int(text.isna().sum())} empty values")
    seen = set(text.unique())
    if seen <= _POSITIVE | _NEGATIVE and seen & _POSITIVE and seen & _NEGATIVE:
        labels: np.ndarray = np.asarray(text.isin(_POSITIVE).to_numpy(dtype=np.int8))
        return labels
    if len(seen) == 2:
        raise LeadgateError(
            f"target column {name!r} has values {sorted(seen)}; "
            "write them as yes/no, true/false or 1/0"
        )
    raise LeadgateError(f"target column {name!r} must have two values (it has {len(seen)})")


def _read(path: Path, na_values: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise LeadgateError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        with path.open("r", encoding="utf-8-sig") as handle:
            head = handle.readline()
        separator = ";" if head.count(";") > head.count(",") else ","
        return pd.read_csv(path, sep=separator, na_values=na_values or None, low_memory=False)
    except UnicodeDecodeError:
        raise LeadgateError(f"{path}: not UTF-8 text") from None
    except (ValueError, pd.errors.ParserError, OSError) as exc:
        raise LeadgateError(
            f"{path}: cannot read as {suffix.lstrip('.') or 'CSV'}: {exc}"
        ) from None


def load_dataset(
    path: Path,
    *,
    target: str | None,
    outcomes: Path | None = None,
    key: str | None = None,
    drop: list[str] | None = None,
    na_values: list[str] | None = None,
    time_column: str | None = None,
    categorical: list[str] | None = None,
    numeric: list[str] | None = None,
) -> Dataset:
    """Read a CSV/Parquet lead file; infer numeric vs categorical columns (overridable).

    The outcome is either a column (``target``) or membership in a second file
    (``outcomes``, joined on ``key``): a lead is positive when its key appears
    there, as with a list of MQLs and a list of closed deals.
    """
    frame = _read(path, na_values or [])
    if frame.empty:
        raise LeadgateError(f"{path}: no rows")
    if outcomes is not None:
        if key is None or key not in frame.columns:
            raise LeadgateError(f"--key: name the column of {path} that links to {outcomes}")
        won = _read(outcomes, [])
        if key not in won.columns:
            raise LeadgateError(f"--key: no column {key!r} in {outcomes}")
        target = target or "converted"
        if target in frame.columns:
            raise LeadgateError(
                f"{path} already has a column {target!r}; pick another --target name"
            )
        frame[target] = frame[key].isin(set(won[key].dropna())).map({True: "yes", False: "no"})
        drop = [*(drop or []), key]
    if target is None:
        raise LeadgateError(
            "name the outcome with --target COLUMN (or --outcomes FILE --key COLUMN)"
        )
    columns = list(frame.columns)
    for name, what in (
        [(target, "--target")]
        + [(c, "--drop") for c in drop or []]
        + [(c, "--categorical") for c in categorical or []]
        + [(c, "--numeric") for c in numeric or []]
    ):
        if name not in columns:
            raise LeadgateError(
                f"{what}: no column {name!r} in {path} (columns: {', '.join(columns)})"
            )
    y = binarize(frame[target], target)
    if y.min() == y.max():
        raise LeadgateError(f"target column {target!r} has only one class")
    time = None
    skip = {target, *(drop or [])}
    if time_column == ROW_ORDER:
        time = pd.Series(np.arange(len(frame)), index=frame.index)
    elif time_column is not None:
        if time_column not in columns:
            raise LeadgateError(f"--time-column: no column {time_column!r} in {path}")
        time = pd.to_datetime(frame[time_column], errors="coerce", utc=True)
        if time.isna().all():
            raise LeadgateError(f"--time-column: {time_column!r} holds no readable timestamps")
        skip.add(time_column)
    features = frame[[c for c in columns if c not in skip]].copy()
    forced_cat, forced_num = set(categorical or []), set(numeric or [])
    cats: list[str] = []
    nums: list[str] = []
    for column in features.columns:
        series = features[column]
        if column in forced_num:
            features[column] = pd.to_numeric(series, errors="coerce")
            nums.append(column)
        elif (
            column in forced_cat
            or not pd.api.types.is_numeric_dtype(series)
            or pd.api.types.is_bool_dtype(series)
        ):
            features[column] = series.astype("string").fillna("(missing)").astype("category")
            cats.append(column)
        else:
            features[column] = series.astype("float64")
            nums.append(column)
    if not cats and not nums:
        raise LeadgateError(f"{path}: no feature columns left after --drop")
    return Dataset(
        features=features,
        target=y,
        numeric=tuple(nums),
        categorical=tuple(cats),
        time=time,
        source=str(path),
    )
