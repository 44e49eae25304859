"""A real HTTP server for tests: uvicorn on 127.0.0.1, on a free port, in a thread."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

__all__ = ["start_server"]


def start_server(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Serve ``app`` (its lifespan on); returns the server, its thread and its URL.
    Stop it with ``server.should_exit = True`` and ``thread.join()``."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"
