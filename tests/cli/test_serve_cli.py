"""``leadgate serve`` and ``leadgate keys`` from the command line, as a new user runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from leadgate.cli import app


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_keys_create_list_revoke(cli: CliRunner) -> None:
    created = cli.invoke(
        app, ["keys", "create", "--scope", "ingest", "--name", "website", "--json"]
    )
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)
    assert key["key"].startswith("lg_ingest_") and key["scope"] == "ingest"
    listed = json.loads(cli.invoke(app, ["keys", "list", "--json"]).output)["keys"]
    assert [k["name"] for k in listed] == ["website"] and "key" not in listed[0]
    assert cli.invoke(app, ["keys", "revoke", key["id"], "--json"]).exit_code == 0
    bad = cli.invoke(app, ["keys", "create", "--scope", "root", "--name", "x"])
    assert bad.exit_code == 2 and "unknown scope" in bad.output


def test_keys_create_with_origins_makes_a_public_key(cli: CliRunner) -> None:
    created = cli.invoke(
        app,
        [
            "keys", "create", "--scope", "ingest", "--name", "site",
            "--origin", "https://WWW.example.com", "--origin", "http://127.0.0.1:8080", "--json",
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["origins"] == [
        "http://127.0.0.1:8080",
        "https://www.example.com",
    ]
    listed = json.loads(cli.invoke(app, ["keys", "list", "--json"]).output)["keys"]
    assert listed[0]["origins"] == ["http://127.0.0.1:8080", "https://www.example.com"]
    for args, why in (
        (["--scope", "admin", "--origin", "https://x.com"], "only ingest keys"),
        (["--scope", "ingest", "--origin", "https://x.com/page"], "no path"),
    ):
        bad = cli.invoke(app, ["keys", "create", "--name", "x", *args])
        assert bad.exit_code == 2 and why in bad.output, bad.output
    assert len(json.loads(cli.invoke(app, ["keys", "list", "--json"]).output)["keys"]) == 1


def test_serve_answers_with_openapi_and_rejects_bad_playbooks(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "playbooks.yaml"
    broken.write_text("version: 1\nname: x\nplaybooks: [{id: a, on: mql, actions: [nope.x]}]\n")
    env = {**os.environ, "LEADGATE_DATABASE_URL": database_url}
    refused = subprocess.run(
        [sys.executable, "-m", "leadgate.cli", "serve", "--playbooks", str(broken)],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "unknown action 'nope.x'" in refused.stderr
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-m", "leadgate.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, server.stderr.read() if server.stderr else ""
                time.sleep(0.2)
        assert "/v1/batch" in spec["paths"] and "/api/v1/leads/{ref}/transition" in spec["paths"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/leads", timeout=5).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
