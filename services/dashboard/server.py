"""The dashboard's HTTP server: static page, `/api/snapshot` (JSON) and `/events` (SSE).

`/events` sends a `snapshot` event at once and every `refresh_s`, and an `article`
event for each new entry of a topic stream (read with XREAD, no consumer group).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import redis

from services.adapters.keys import Keys
from services.dashboard.data import DashboardData
from services.httpserver import BackgroundHTTPServer, QuietHandler

STATIC = Path(__file__).resolve().parent / "static"
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
CSP = "; ".join(
    ("default-src 'self'", "img-src 'self' data:", "style-src 'self'", "script-src 'self'")
)


class DashboardServer(BackgroundHTTPServer):
    """Serves the dashboard on a daemon thread; `stop()` ends it and every SSE stream."""

    def __init__(
        self,
        address: tuple[str, int],
        redis_url: str,
        keys: Keys,
        topics: Sequence[str] | None,
        refresh_s: float,
    ) -> None:
        super().__init__(address, _Handler, "dashboard")
        self.pool = redis.ConnectionPool.from_url(redis_url)
        self.keys = keys
        self.topic_slugs = topics
        self.refresh_s = refresh_s
        self.stopping = threading.Event()

    def data(self) -> DashboardData:
        return DashboardData(redis.Redis(connection_pool=self.pool), self.keys, self.topic_slugs)

    def stop(self) -> None:
        self.stopping.set()  # ends the SSE streams first
        super().stop()
        self.pool.disconnect()


class _Handler(QuietHandler):
    server: DashboardServer
    extra_headers: ClassVar[dict[str, str]] = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
    }

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0]
        try:
            if path in FILES:
                name, content_type = FILES[path]
                self._send(200, content_type, (STATIC / name).read_bytes())
            elif path == "/api/snapshot":
                self._json(200, self.server.data().snapshot())
            elif path == "/events":
                self._events()
            elif path == "/healthz":
                self._json(200, {"alive": True})
            else:
                self._json(404, {"error": f"no such page {path}"})
        except redis.RedisError as exc:
            self._json(503, {"error": f"redis unavailable: {type(exc).__name__}: {exc}"})

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        data = self.server.data()
        try:
            self._stream(data)
        except (BrokenPipeError, ConnectionResetError, redis.RedisError):
            return  # the browser went away, or Redis did (the page reconnects)
        finally:
            data.client.close()

    def _stream(self, data: DashboardData) -> None:
        next_snapshot = 0.0
        cursor: dict[str, str] = {}
        while not self.server.stopping.is_set():
            if time.monotonic() >= next_snapshot:
                snapshot = data.snapshot()
                known = {t["slug"] for t in snapshot["topics"]}
                fresh = data.last_ids([s for s in known if data.keys.topic(s) not in cursor])
                cursor.update(fresh)
                self._sse("snapshot", snapshot)
                next_snapshot = time.monotonic() + self.server.refresh_s
            for item in data.read_new(cursor, block_ms=500):
                self._sse("article", item)
            self.wfile.write(b": keep-alive\n\n")
            self.wfile.flush()

    def _sse(self, event: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":"))
        self.wfile.write(f"event: {event}\ndata: {body}\n\n".encode())
        self.wfile.flush()


def serve_dashboard(
    redis_url: str,
    keys: Keys,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    topics: Sequence[str] | None = None,
    refresh_s: float = 5.0,
) -> DashboardServer:
    """Start the dashboard on a daemon thread (port 0 picks a free port); `.stop()` ends it."""
    return DashboardServer((host, port), redis_url, keys, topics, refresh_s).start()
