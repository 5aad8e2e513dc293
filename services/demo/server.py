"""A static feed server on 127.0.0.1 with ETag / Last-Modified and 304s.

Used by `newswire demo`, the integration tests and the benchmark. Documents are held
in memory ({path: bytes}); a `.gz` document is served with `Content-Encoding: gzip`.
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_TYPES = {
    ".json": "application/feed+json",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
}


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        doc = self.server.documents.get(path)
        self.server.hits += 1
        if doc is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.sha1(doc, usedforsecurity=False).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(self.server.started, usegmt=True)
        if self.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in self.headers
            and self.headers.get("If-Modified-Since") == modified
        ):
            self.server.not_modified += 1
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", _content_type(path))
        if path.endswith(".gz"):
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(doc)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)
        self.end_headers()
        self.wfile.write(doc)

    def log_message(self, format: str, *args: object) -> None:
        return


def _content_type(path: str) -> str:
    for suffix, ctype in _TYPES.items():
        if path.endswith(suffix):
            return ctype
    return "application/xml"


class FeedServer(ThreadingHTTPServer):
    """Serve `documents` ({"/path": bytes}) on 127.0.0.1:<free port> in a thread."""

    daemon_threads = True

    def __init__(self, documents: Mapping[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.documents = dict(documents)
        self.started = time.time() - 60
        self.hits = 0
        self.not_modified = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @classmethod
    def from_directory(cls, directory: Path, pattern: str = "*") -> FeedServer:
        docs = {
            f"/{p.name}": p.read_bytes() for p in sorted(directory.glob(pattern)) if p.is_file()
        }
        return cls(docs)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
