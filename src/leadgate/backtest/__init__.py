"""Replay scoring models over the stored history, point in time, and score them against outcomes."""

from leadgate.backtest.metrics import ModelScore, Period
from leadgate.backtest.replay import ReplayInput, ReplayResult, replay
from leadgate.backtest.service import (
    BacktestData,
    BacktestReport,
    first_mql_times,
    load_backtest_data,
    parse_day,
    period_end,
    run_backtest,
)
from leadgate.backtest.shape import ModelShape, Trend, model_shape

__all__ = [
    "BacktestData",
    "BacktestReport",
    "ModelScore",
    "ModelShape",
    "Period",
    "ReplayInput",
    "ReplayResult",
    "Trend",
    "first_mql_times",
    "load_backtest_data",
    "model_shape",
    "parse_day",
    "period_end",
    "replay",
    "run_backtest",
]
