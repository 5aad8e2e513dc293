"""A threaded HTTP server that runs in a daemon thread: `start()`, `url`, `stop()`.

The base of every small HTTP endpoint newswire serves (health, dashboard, WebSub
callback, the demo feed server).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class QuietHandler(BaseHTTPRequestHandler):
    """Request handler that answers whole bodies (plus `extra_headers`) and logs nothing."""

    extra_headers: ClassVar[dict[str, str]] = {}

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Probes, SSE reconnects and hub callbacks are frequent: no line per request."""


class BackgroundHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], name: str
    ) -> None:
        super().__init__(address, handler)
        self._thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]!s}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
