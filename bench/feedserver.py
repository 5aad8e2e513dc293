"""The benchmark's feed server: services.demo.server.FeedServer's semantics, on asyncio.

Hand-written on asyncio.Protocol rather than aiohttp.web because the server shares the
2-core machine with the measured poller: on 2,000 documents, 16 keep-alive connections,
aiohttp's low-level `web.Server` cost 0.10-0.15 ms of server CPU per 304 and this one
0.05-0.06 ms (/tmp/nw/feedserver_cpu.py, see the commit message). It speaks only what the
benchmark needs: GET, HTTP/1.1 keep-alive (HTTP/1.0 and `Connection: close` close), no
request bodies. Each document's ETag ('"' + sha1[:16] + '"', as FeedServer) and response
heads are computed once at start-up; Last-Modified is fixed at start time. 304 when
If-None-Match equals the ETag or, without If-None-Match, If-Modified-Since equals
Last-Modified; `.gz` documents carry `Content-Encoding: gzip`; unknown paths get 404, other
methods 501, malformed requests 400.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import time
from collections.abc import Mapping

from services.demo.server import _content_type

MAX_HEAD = 64 * 1024


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:16].encode() + b'"'


class _Document:
    __slots__ = ("body", "etag", "head_200", "head_304")

    def __init__(self, path: str, body: bytes, modified: str) -> None:
        self.body = body
        self.etag = _etag(body)
        encoding = "Content-Encoding: gzip\r\n" if path.endswith(".gz") else ""
        self.head_200 = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {_content_type(path)}\r\n{encoding}"
            f"Content-Length: {len(body)}\r\nETag: {self.etag.decode()}\r\n"
            f"Last-Modified: {modified}\r\n"
        ).encode()
        self.head_304 = b"HTTP/1.1 304 Not Modified\r\nETag: " + self.etag + b"\r\n"


_ERRORS = {
    status: f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n".encode()
    for status, reason in ((400, "Bad Request"), (404, "Not Found"), (501, "Not Implemented"))
}


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse request heads, answer them in order."""

    def __init__(self, app: FeedApp) -> None:
        self.app = app
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.app.connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.app.connections.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._send(_ERRORS[400], close=True)
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self._answer(head)

    def _answer(self, head: bytes) -> None:
        line, *lines = head.split(b"\r\n")
        parts = line.split()
        headers = {}
        for raw in lines:
            name, _, value = raw.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            self._send(_ERRORS[400], close=True)
            return
        method, target, version = parts
        if method != b"GET" or b"content-length" in headers or b"transfer-encoding" in headers:
            self._send(_ERRORS[501], close=True)  # no request bodies: close rather than desync
            return
        connection = headers.get(b"connection", b"").lower()
        close = connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive")
        self._send(*self.app.response(target.split(b"?", 1)[0], headers), close=close)

    def _send(self, head: bytes, body: bytes = b"", *, close: bool) -> None:
        assert self.transport is not None
        self.transport.write(head + self.app.date_line())
        if body:
            self.transport.write(body)
        if close:
            self.transport.close()


class FeedApp:
    """Serve `documents` ({"/path": bytes}) on 127.0.0.1:<free port> inside a running loop."""

    def __init__(self, documents: Mapping[str, bytes]) -> None:
        self.started = time.time() - 60
        modified = email.utils.formatdate(self.started, usegmt=True)
        self.last_modified = modified.encode()
        self.documents = {p.encode(): _Document(p, b, modified) for p, b in documents.items()}
        self.connections: set[asyncio.Transport] = set()
        self._server: asyncio.Server | None = None
        self._date = (0, b"")

    def response(self, path: bytes, headers: Mapping[bytes, bytes]) -> tuple[bytes, bytes]:
        """(status line + headers without Date, body) for a GET of `path`."""
        doc = self.documents.get(path)
        if doc is None:
            return _ERRORS[404], b""
        match = headers.get(b"if-none-match")
        if match == doc.etag or (
            match is None and headers.get(b"if-modified-since") == self.last_modified
        ):
            return doc.head_304, b""
        return doc.head_200, doc.body

    def date_line(self) -> bytes:
        """The `Date:` header and the blank line ending a head, formatted once a second."""
        now = int(time.time())
        if now != self._date[0]:
            date = email.utils.formatdate(now, usegmt=True)
            self._date = (now, f"Date: {date}\r\n\r\n".encode())
        return self._date[1]

    async def start(self) -> int:
        """Listen on a free loopback port; the port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), "127.0.0.1", 0, backlog=256
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for transport in list(self.connections):
            transport.close()
