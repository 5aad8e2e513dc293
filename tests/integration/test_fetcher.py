"""The guarded fetcher against real HTTP servers on 127.0.0.1 (and netguard's address rules)."""

from __future__ import annotations

import asyncio
import gzip
import io
import socket
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any, TypeVar

import brotli
import feedparser
import pytest

from services.adapters.fetcher import (
    Fetcher,
    FetchResult,
    HttpStatusError,
    RetryableFetchError,
    parse_retry_after,
)
from services.adapters.netguard import GuardedResolver, address_problem, parse_ip_literal
from services.core.errors import FetchError, FetchRefused, PermanentFetchError
from services.core.xmlguard import neutralise_doctype

pytestmark = pytest.mark.integration

CAP = 1024 * 1024
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback</title></channel></rss>'
ZEROS = bytes(16 * CAP)
GZIP_BOMB = gzip.compress(gzip.compress(ZEROS, 9), 9)  # ~160 bytes on the wire
BR_BOMB = brotli.compress(ZEROS)
T = TypeVar("T")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FeedServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        path = self.path.split("?")[0]
        route = ROUTES.get(path) or ROUTES.get(path.rsplit("/", 1)[0] + "/*")
        if route is None:
            self.reply(404, b"not found")
        else:
            route(self)

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


def feed_with_etag(h: Handler) -> None:
    if h.headers.get("If-None-Match") == '"v1"':
        h.reply(304, ETag='"v1"')
    else:
        h.reply(200, FEED, ETag='"v1"', Last_Modified="Mon, 01 Jan 2024 00:00:00 GMT")


def trickle(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "100000")
    h.end_headers()
    try:
        for _ in range(200):
            h.wfile.write(b"<")
            h.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass
    h.close_connection = True


def endless(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Connection", "close")
    h.end_headers()
    try:
        for _ in range(1000):
            h.wfile.write(b"x" * 65536)
    except OSError:
        pass
    h.close_connection = True


def redirect_chain(h: Handler) -> None:
    left = int(h.path.rsplit("/", 1)[1])
    if left == 0:
        h.reply(200, FEED)
    else:
        h.reply(302, Location=f"/chain/{left - 1}")


ROUTES: dict[str, Callable[[Handler], None]] = {
    "/feed": feed_with_etag,
    "/gzip": lambda h: h.reply(200, gzip.compress(FEED), Content_Encoding="gzip"),
    "/deflate": lambda h: h.reply(200, zlib.compress(FEED), Content_Encoding="deflate"),
    "/deflate-raw": lambda h: h.reply(
        200, zlib.compress(FEED, wbits=-15), Content_Encoding="deflate"
    ),
    "/br": lambda h: h.reply(200, brotli.compress(FEED), Content_Encoding="br"),
    "/stacked": lambda h: h.reply(
        200, brotli.compress(gzip.compress(FEED)), Content_Encoding="gzip, br"
    ),
    "/gzip-bomb": lambda h: h.reply(200, GZIP_BOMB, Content_Encoding="gzip, gzip"),
    "/br-bomb": lambda h: h.reply(200, BR_BOMB, Content_Encoding="br"),
    "/zstd": lambda h: h.reply(200, FEED, Content_Encoding="zstd"),
    "/huge-length": lambda h: h.reply(200, b"", Content_Length=str(10**9)),
    "/endless": endless,
    "/trickle": trickle,
    "/chain/*": redirect_chain,
    "/perm": lambda h: h.reply(301, Location="/perm2"),
    "/perm2": lambda h: h.reply(308, Location="/feed"),
    "/temp-then-perm": lambda h: h.reply(302, Location="/perm"),
    "/to-file": lambda h: h.reply(302, Location="file:///etc/passwd"),
    "/to-gopher": lambda h: h.reply(301, Location="gopher://127.0.0.1:70/"),
    "/to-metadata": lambda h: h.reply(302, Location="http://169.254.169.254/latest/meta-data/"),
    "/to-mapped-metadata": lambda h: h.reply(302, Location="http://[::ffff:a9fe:a9fe]/"),
    "/429-delta": lambda h: h.reply(429, Retry_After="120"),
    "/429-date": lambda h: h.reply(
        429, Retry_After=format_datetime(datetime.now(UTC) + timedelta(seconds=300), usegmt=True)
    ),
    "/503": lambda h: h.reply(503, Retry_After="30"),
    "/410": lambda h: h.reply(410, b"gone"),
}


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connections = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}{path}"


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def fetcher(*, allow_private: bool = True, timeout_s: float = 5.0, **kw: Any) -> Fetcher:
    return Fetcher(
        connect_timeout_s=2.0,
        timeout_s=timeout_s,
        max_body_bytes=CAP,
        max_redirects=5,
        user_agent="newswire-test/1 (+https://example.org/contact)",
        allow_private_networks=allow_private,
        **kw,
    )


def run(coro_fn: Callable[[Fetcher], Awaitable[T]], **kw: Any) -> T:
    async def main() -> T:
        f = fetcher(**kw)
        try:
            return await coro_fn(f)
        finally:
            await f.aclose()

    return asyncio.run(main())


def fetch(url: str, **kw: Any) -> FetchResult:
    return run(lambda f: f.fetch(url), **kw)


def fetch_error(url: str, **kw: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, **kw)
    return info.value


# --- HTTP semantics ---------------------------------------------------------------------


def test_200_with_validators_then_304(server: FeedServer) -> None:
    async def twice(f: Fetcher) -> tuple[FetchResult, FetchResult]:
        first = await f.fetch(server.url("/feed"))
        second = await f.fetch(
            server.url("/feed"), etag=first.etag, last_modified=first.last_modified
        )
        return first, second

    first, second = run(twice)
    assert (first.status, first.body, first.etag) == (200, FEED, '"v1"')
    assert first.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert first.headers["etag"] == '"v1"' and not first.not_modified
    assert (second.status, second.body, second.not_modified) == (304, None, True)
    sent = server.requests[-1][1]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert sent["User-Agent"].startswith("newswire-test/1")
    assert sent["Accept-Encoding"] == "gzip, deflate, br"


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/deflate-raw", "/br", "/stacked"])
def test_content_encodings_are_decoded(server: FeedServer, path: str) -> None:
    result = fetch(server.url(path))
    assert result.body == FEED
    assert 0 < result.wire_bytes != len(FEED)


@pytest.mark.parametrize("path", ["/gzip-bomb", "/br-bomb", "/huge-length", "/endless"])
def test_oversized_bodies_are_refused(server: FeedServer, path: str) -> None:
    error = fetch_error(server.url(path))
    assert isinstance(error, FetchRefused)
    assert error.error_class == "too_large"


def test_gzip_bomb_is_tiny_on_the_wire() -> None:
    assert len(GZIP_BOMB) < 1024 < CAP < len(ZEROS)


def test_unknown_content_encoding_is_an_error(server: FeedServer) -> None:
    error = fetch_error(server.url("/zstd"))
    assert isinstance(error, PermanentFetchError) and error.error_class == "bad_encoding"


def test_trickling_server_hits_the_total_deadline(server: FeedServer) -> None:
    started = time.monotonic()
    error = fetch_error(server.url("/trickle"), timeout_s=1.0)
    assert isinstance(error, RetryableFetchError) and error.error_class == "timeout"
    assert time.monotonic() - started < 3.0  # the read timeout alone would never fire


def test_redirects_are_followed_and_recorded(server: FeedServer) -> None:
    result = fetch(server.url("/chain/3"))
    assert result.body == FEED and result.url == server.url("/chain/0")
    assert [status for status, _ in result.redirects] == [302, 302, 302]
    assert result.permanent_redirect is None


def test_too_many_redirects(server: FeedServer) -> None:
    error = fetch_error(server.url("/chain/30"))
    assert error.error_class == "too_many_redirects"
    assert isinstance(error, PermanentFetchError)


def test_permanent_redirects_are_reported(server: FeedServer) -> None:
    result = fetch(server.url("/perm"))
    assert result.redirects == ((301, server.url("/perm2")), (308, server.url("/feed")))
    assert result.permanent_redirect == server.url("/feed")
    assert fetch(server.url("/temp-then-perm")).permanent_redirect is None


@pytest.mark.parametrize(
    ("path", "error_class"),
    [
        ("/to-file", "refused_scheme"),
        ("/to-gopher", "refused_scheme"),
        ("/to-metadata", "refused_address"),  # refused even with private networks allowed
        ("/to-mapped-metadata", "refused_address"),
    ],
)
def test_redirect_targets_are_revalidated(server: FeedServer, path: str, error_class: str) -> None:
    error = fetch_error(server.url(path))
    assert isinstance(error, FetchRefused) and error.error_class == error_class


def test_429_retry_after_delta_and_date(server: FeedServer) -> None:
    delta = fetch_error(server.url("/429-delta"))
    assert isinstance(delta, RetryableFetchError) and delta.error_class == "http_429"
    assert delta.retry_after_s == 120.0
    dated = fetch_error(server.url("/429-date"))
    assert isinstance(dated, RetryableFetchError) and dated.retry_after_s is not None
    assert 290 <= dated.retry_after_s <= 301


def test_503_is_transient_with_retry_after(server: FeedServer) -> None:
    error = fetch_error(server.url("/503"))
    assert isinstance(error, RetryableFetchError) and error.error_class == "http_5xx"
    assert (error.retry_after_s, error.status) == (30.0, 503)


def test_410_is_gone_and_404_is_4xx(server: FeedServer) -> None:
    gone = fetch_error(server.url("/410"))
    assert isinstance(gone, HttpStatusError) and (gone.error_class, gone.status) == ("gone", 410)
    missing = fetch_error(server.url("/nothing-here"))
    assert isinstance(missing, HttpStatusError) and missing.error_class == "http_4xx"


def test_parse_retry_after_forms() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after(" 60 ", now=now) == 60.0
    assert parse_retry_after("Mon, 01 Jan 2024 00:02:00 GMT", now=now) == 120.0
    assert parse_retry_after("Sun, 31 Dec 2023 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


# --- SSRF -------------------------------------------------------------------------------

BLOCKED = [
    "127.0.0.1", "127.255.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1",
    "192.0.2.1", "::1", "::", "fd00:ec2::254", "fc00::1", "fe80::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:a9fe:a9fe", "64:ff9b::a00:1",
    "2002:7f00:1::1", "2001:db8::1", "::127.0.0.1",
]  # fmt: skip
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_problem(ip_address(address), allow_private=False) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_problem(ip_address(address), allow_private=False) is None


def test_allow_private_keeps_metadata_multicast_and_unspecified_refused() -> None:
    assert address_problem(ip_address("10.0.0.1"), allow_private=True) is None
    assert address_problem(ip_address("127.0.0.1"), allow_private=True) is None
    for address in ("169.254.169.254", "fd00:ec2::254", "224.0.0.1", "0.0.0.0"):
        assert address_problem(ip_address(address), allow_private=True) is not None


@pytest.mark.parametrize(
    "spelling", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001", "017700000001"]
)
def test_odd_ipv4_spellings_are_recognised(spelling: str) -> None:
    assert parse_ip_literal(spelling) == ip_address("127.0.0.1")


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "256.1.1.1", "12a.1", "0x1g"])
def test_names_are_not_addresses(host: str) -> None:
    assert parse_ip_literal(host) is None


def test_loopback_fetch_refused_without_connecting(server: FeedServer) -> None:
    port = server.server_address[1]
    before = server.connections
    urls = [
        server.url("/feed"),
        server.url("/feed", host="localhost"),
        server.url("/feed", host="LOCALHOST."),
        server.url("/feed", host="2130706433"),
        server.url("/feed", host="0x7f.1"),
        server.url("/feed", host="0177.0.0.1"),
        server.url("/feed", host="[::ffff:127.0.0.1]"),
        server.url("/feed", host="[::1]"),
        f"http://169.254.169.254:{port}/latest/meta-data/",
        f"http://10.0.0.1:{port}/",
        f"http://100.64.0.1:{port}/",
        f"http://[fd00::1]:{port}/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "ftp://example.org/feed.xml",
        "feed.xml",
    ]
    for url in urls:
        error = fetch_error(url, allow_private=False)
        assert isinstance(error, FetchRefused), url
        assert str(error).startswith("refused"), url
    assert server.connections == before


def stub_resolver(*answers: Sequence[str]) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    queue = list(answers)

    async def resolve(host: str, port: int) -> Sequence[str]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve


def test_connect_time_check_refuses_names_resolving_to_loopback(server: FeedServer) -> None:
    before = server.connections
    url = server.url("/feed", host="feed.test")
    error = fetch_error(url, allow_private=False, resolver=stub_resolver(["127.0.0.1"]))
    assert isinstance(error, FetchRefused) and error.error_class == "refused_address"
    mixed = stub_resolver(["93.184.216.34", "127.0.0.1"])
    assert fetch_error(url, allow_private=False, resolver=mixed).error_class == "refused_address"
    assert server.connections == before


def test_connection_goes_to_the_resolved_address_with_the_original_host(
    server: FeedServer,
) -> None:
    url = server.url("/feed", host="feed.test")
    result = fetch(url, allow_private=True, resolver=stub_resolver(["127.0.0.1"]))
    assert result.body == FEED and result.url == url
    assert server.requests[-1][1]["Host"] == f"feed.test:{server.server_address[1]}"


def test_dns_rebinding_cannot_swap_the_checked_address() -> None:
    """A name is resolved once per lookup and every answer is checked before use."""
    resolver = GuardedResolver(
        allow_private=False, resolver=stub_resolver(["93.184.216.34"], ["127.0.0.1"])
    )

    async def resolve_twice() -> list[str]:
        first = await resolver.resolve("rebind.test", 80)
        with pytest.raises(FetchRefused):
            await resolver.resolve("rebind.test", 80)
        return [r["host"] for r in first]

    assert asyncio.run(resolve_twice()) == ["93.184.216.34"]


# --- XXE against a real listener ---------------------------------------------------------


def test_xxe_never_connects_out() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    target = f"http://127.0.0.1:{port}/x"
    doctypes = [
        f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{target}">\n]>',
        f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{target}"> %p;]>',
        f'<!DOCTYPE rss SYSTEM "{target}">',
    ]
    try:
        for doctype in doctypes:
            rss = "<rss><channel><title>&xxe;</title></channel></rss>"
            body = f'<?xml version="1.0"?>\n{doctype}\n{rss}'
            feedparser.parse(io.BytesIO(neutralise_doctype(body.encode())))
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_304s_keep_the_connection_alive() -> None:
    """A 304 leaves the connection reusable: polling unchanged feeds opens no new ones."""
    from services.demo.server import FeedServer as KeepAliveServer

    class Counting(KeepAliveServer):
        connections = 0

        def verify_request(self, request: Any, client_address: Any) -> bool:
            self.connections += 1
            return True

    async def polls(f: Fetcher, url: str) -> list[int]:
        first = await f.fetch(url)
        return [(await f.fetch(url, etag=first.etag)).status for _ in range(5)]

    with Counting({"/feed.xml": FEED}) as srv:
        statuses = run(lambda f: polls(f, srv.url("/feed.xml")))
    assert statuses == [304] * 5
    assert srv.connections == 1
