"""bench/feedserver.py answers as services.demo.server.FeedServer does, over real loopback."""

from __future__ import annotations

import asyncio
import gzip
import re
import sys
from pathlib import Path

import pytest

from services.demo.server import FeedServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from feedserver import FeedApp

pytestmark = pytest.mark.integration

DOCS = {
    "/a.xml": b"<rss>a</rss>",
    "/b.json": b'{"version": "https://jsonfeed.org/version/1.1"}',
    "/c.atom": b"<feed>c</feed>",
    "/d.rdf": b"<rdf>d</rdf>",
    "/e.xml.gz": gzip.compress(b"<rss>e</rss>"),
}
COMPARED = ("content-type", "content-encoding", "content-length", "etag")


async def exchange(port: int, raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Send `raw` (one or more requests) on one connection; every response until EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    out = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        status, *lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        length = int(headers.get("content-length", 0))
        out.append((int(status.split()[1]), headers, data[:length]))
        data = data[length:]
    return out


def get(path: str, *headers: str, close: bool = True) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: x", *headers] + (["Connection: close"] if close else [])
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def one(port: int, path: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    (response,) = await exchange(port, get(path, *headers))
    return response


async def answers(port: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Every conditional case on every document, with this server's own validators."""
    out = [await one(port, "/missing.xml")]
    for path in DOCS:
        first = await one(port, path)
        etag, modified = first[1]["etag"], first[1]["last-modified"]
        out += [first] + [
            await one(port, path, *h)
            for h in (
                [f"If-None-Match: {etag}"],
                ['If-None-Match: "other"'],
                [f"If-Modified-Since: {modified}"],
                ['If-None-Match: "other"', f"If-Modified-Since: {modified}"],
                ["If-Modified-Since: Thu, 01 Jan 2004 00:00:00 GMT"],
            )
        ]
    return out


def comparable(response: tuple[int, dict[str, str], bytes]) -> tuple[object, ...]:
    status, headers, body = response
    return status, {k: headers.get(k) for k in COMPARED}, body if status == 200 else b""


async def feedapp_answers(*requests: bytes) -> list[list[tuple[int, dict[str, str], bytes]]]:
    app = FeedApp(DOCS)
    port = await app.start()
    try:
        return [await answers(port)] + [await exchange(port, raw) for raw in requests]
    finally:
        await app.stop()


def test_same_answers_as_feedserver() -> None:
    with FeedServer(DOCS) as server:
        expected = asyncio.run(answers(server.server_address[1]))
    (got,) = asyncio.run(feedapp_answers())
    assert [r[0] for r in got] == [404] + [200, 304, 200, 304, 200, 200] * len(DOCS)
    assert [comparable(r) for r in got[1:]] == [comparable(r) for r in expected[1:]]
    assert all(re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT", r[1]["date"]) for r in got)


def test_keep_alive_pipelining_and_closing() -> None:
    pipelined = get("/a.xml", close=False) + get("/nope", close=False) + get("/c.atom")
    http10 = b"GET /a.xml HTTP/1.0\r\n\r\n" + get("/c.atom")
    post = b"POST /a.xml HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" + get("/c.atom")
    _, kept, closed10, closed_post = asyncio.run(feedapp_answers(pipelined, http10, post))
    assert [(s, b) for s, _, b in kept] == [
        (200, DOCS["/a.xml"]),
        (404, b""),
        (200, DOCS["/c.atom"]),
    ]
    assert [s for s, _, _ in closed10] == [200]
    assert [s for s, _, _ in closed_post] == [501]
