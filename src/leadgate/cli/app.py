"""Root Typer application: wires the command modules together."""

from __future__ import annotations

import os

import typer

from leadgate.cli import (
    backtest_cmd,
    demo_cmd,
    handoff_cmd,
    imports_cmd,
    keys_cmd,
    leads_cmd,
    model_cmd,
    predict_cmd,
    report_cmd,
    rescore_cmd,
    score_cmd,
    serve_cmd,
    tune_cmd,
    users_cmd,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="leadgate",
    help="Lead qualification you can read, test on history and explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(model_cmd.app, name="model")
app.add_typer(imports_cmd.app, name="import")
app.add_typer(predict_cmd.app, name="predict")
app.add_typer(report_cmd.app, name="report")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(handoff_cmd.app, name="handoff")
app.add_typer(users_cmd.app, name="users")
app.add_typer(leads_cmd.app, name="leads")
app.command("score")(score_cmd.score)
app.command("explain")(score_cmd.explain)
app.command("demo")(demo_cmd.demo)
app.command("rescore")(rescore_cmd.rescore)
app.command("backtest")(backtest_cmd.backtest)
app.command("tune")(tune_cmd.tune)
app.command("serve")(serve_cmd.serve)


def main() -> None:
    """Console-script entry point."""
    # LightGBM's OpenMP threads sleep instead of spinning while they wait (set before
    # it loads; an explicit OMP_WAIT_POLICY wins): spinning makes training 4-10x
    # slower whenever anything else runs on the machine
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()
