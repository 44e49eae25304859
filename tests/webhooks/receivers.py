"""Webhook receivers for tests: real HTTP servers on 127.0.0.1, in threads.

A receiver records every request (when it arrived, its headers and body), can
answer slowly (``delay``) or hang past any client timeout (``hang``), and counts
how many requests it serves at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "Receiver"]


@dataclass(frozen=True)
class Received:
    """One request: monotonic and wall-clock arrival, lower-cased headers, body."""

    at: float
    wall: float
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a hung request's client has gone: nothing to report


class Receiver:
    """A webhook receiver answering 204 after ``delay`` seconds (``hang``: sleeps
    that long before answering, past the client's timeout)."""

    def __init__(self, *, delay: float = 0.0, hang: float = 0.0) -> None:
        self.received: list[Received] = []
        self.active = 0
        self.most_active = 0
        self._guard = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._guard:
                    receiver.received.append(
                        Received(
                            at=time.monotonic(),
                            wall=time.time(),
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    receiver.active += 1
                    receiver.most_active = max(receiver.most_active, receiver.active)
                try:
                    time.sleep(hang or delay)
                    self.send_response(204)
                    self.end_headers()
                finally:
                    with receiver._guard:
                        receiver.active -= 1

            def log_message(self, *_: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"received {len(self.received)} requests, wanted {count}")
            time.sleep(0.01)

    def ids(self) -> list[str]:
        """The ``webhook-id`` of every request, in arrival order."""
        return [item.headers["webhook-id"] for item in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
