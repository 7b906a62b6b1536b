"""A real HTTP receiver for webhooks on loopback: records every delivery (headers and raw
body) and answers with the statuses a test queues (200 once the queue is empty)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.raw))

    def signed_with(self, key: str) -> bool:
        """The receiver's check: HMAC-SHA256 of the raw body, hex, in constant time."""
        expected = hmac.new(key.encode(), self.raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("logto-signature-sha-256", ""))


@dataclass
class Receiver:
    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to come, then 200
    headers: dict[int, dict[str, str]] = field(default_factory=dict)  # extra headers by status
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def wait_for(
        self, count: int, where: Callable[[Delivery], bool] = lambda d: True, timeout: float = 15
    ) -> list[Delivery]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [d for d in list(self.deliveries) if where(d)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{len(found)} of {count} deliveries arrived")

    def of(self, event: str) -> list[Delivery]:
        return [d for d in list(self.deliveries) if d.payload.get("event") == event]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = state.answer()
            state.deliveries.append(
                Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            )
            body = b'{"ok":true}' if status < 400 else b"nope"
            self.send_response(status)
            for name, value in state.headers.get(status, {}).items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
