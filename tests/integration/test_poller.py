"""The poller against real HTTP servers on 127.0.0.1 and a real redis-server."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
import redis

from services.adapters.feedstate import RedisFeedStore
from services.adapters.fetcher import Fetcher
from services.adapters.keys import Keys
from services.core.models import Article, FeedSource
from services.poller.loop import FeedOutcome, Poller, PollerConfig
from services.poller.schedule import Interval
from services.registry import FeedRegistry

pytestmark = pytest.mark.integration
KEYS = Keys("t")


def rss(items: int = 2, extra: str = "", tag: str = "a") -> bytes:
    now = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    body = "".join(
        f"<item><title>{tag} {i}</title><link>https://news.example/{tag}/{i}</link>"
        f"<guid>{tag}-{i}</guid><pubDate>{now}</pubDate></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>T</title><link>https://news.example/</link>{extra}{body}</channel></rss>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        srv = self.server
        with srv.lock:
            srv.hits[path] = srv.hits.get(path, 0) + 1
            srv.starts.append((path, time.monotonic()))
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            route = srv.routes.get(path)
            if route is None:
                self.reply(404)
            else:
                route(self)
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class ScriptedServer(ThreadingHTTPServer):
    """Routes: path → handler function; counts hits, start times and concurrency."""

    daemon_threads = True

    def __init__(self, routes: dict[str, Callable[[Handler], None]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes = routes
        self.hits: dict[str, int] = {}
        self.starts: list[tuple[str, float]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer({})
    yield srv
    srv.shutdown()
    srv.server_close()


def make_poller(client: redis.Redis, **config: Any) -> tuple[Poller, list[Article]]:
    sent: list[Article] = []
    fetcher = Fetcher(
        connect_timeout_s=2, timeout_s=5, max_body_bytes=1 << 20, max_redirects=5,
        user_agent="newswire-test", allow_private_networks=True,
    )  # fmt: skip
    settings = {"interval": Interval(300, 86400, 900), "host_spacing_s": 0.0, **config}
    poller = Poller(
        fetcher=fetcher, store=RedisFeedStore(client, KEYS), enqueue=sent.extend,
        config=PollerConfig(**settings),
    )  # fmt: skip
    return poller, sent


def poll(poller: Poller, feed: FeedSource) -> FeedOutcome:
    async def once() -> FeedOutcome:
        try:
            return await poller.poll_feed(feed)
        finally:
            await poller.fetcher.aclose()  # type: ignore[attr-defined]

    return asyncio.run(once())


def events(client: redis.Redis) -> list[dict[str, Any]]:
    return [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in client.xrange(KEYS.feeds_stream)
    ]


def test_conditional_get_hints_and_state(server: ScriptedServer, redis_client: redis.Redis) -> None:
    body = rss(3, extra="<ttl>180</ttl><skipDays><day>Funday</day></skipDays>")

    def feed(h: Handler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.reply(304, ETag='"v1"')
        else:
            h.reply(200, body, ETag='"v1"', Cache_Control="max-age=60")

    server.routes["/feed"] = feed
    source = FeedSource(url=server.url("/feed"))
    poller, sent = make_poller(redis_client)
    first = poll(poller, source)
    assert first.status == "ok" and first.new == 3 and len(sent) == 3
    assert 3 * 3600 <= first.next_poll_in_s <= 3 * 3600 + 1 and "rss ttl" in first.next_poll_reason
    state = poller.store.get(source.id)
    assert state.etag == '"v1"' and state.entry_rate_per_day > 0
    second = poll(make_poller(redis_client)[0], source)
    assert second.status == "unchanged" and second.http_status == 304
    assert "rss ttl" in second.next_poll_reason  # remembered hint applies to a 304 too
    assert poller.store.due_at(source.id) == pytest.approx(
        time.time() + second.next_poll_in_s, abs=5
    )


def test_retry_after_is_honoured_per_feed(
    server: ScriptedServer, redis_client: redis.Redis
) -> None:
    server.routes["/429"] = lambda h: h.reply(429, Retry_After="7200")
    server.routes["/503"] = lambda h: h.reply(
        503, Retry_After=time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5000))
    )
    poller, _ = make_poller(redis_client)
    limited = poll(poller, FeedSource(url=server.url("/429")))
    assert limited.status == "failed" and limited.error_class == "http_429"
    assert (
        7200 <= limited.next_poll_in_s <= 7200 * 1.1
        and "retry after 7200s" in limited.next_poll_reason
    )
    busy = poll(make_poller(redis_client)[0], FeedSource(url=server.url("/503")))
    assert busy.error_class == "http_5xx" and busy.next_poll_in_s >= 4990


def test_degraded_after_n_failures_then_recovered(
    server: ScriptedServer, redis_client: redis.Redis
) -> None:
    healthy = {"ok": False}
    server.routes["/flaky"] = lambda h: h.reply(200, rss(1)) if healthy["ok"] else h.reply(500)
    source = FeedSource(url=server.url("/flaky"), name="Flaky")
    delays = []
    for n in range(1, 7):
        outcome = poll(make_poller(redis_client, degraded_after=3)[0], source)
        delays.append(outcome.next_poll_in_s)
        assert outcome.status == "failed" and f"after {n} consecutive" in outcome.next_poll_reason
    store = RedisFeedStore(redis_client, KEYS)
    assert (
        store.get(source.id).status == "degraded" and store.get(source.id).consecutive_errors == 6
    )
    assert delays[3] > delays[0] * 3  # exponential
    assert [e["type"] for e in events(redis_client)] == ["feed.degraded"]  # once, not per failure
    assert store.due_at(source.id) is not None  # never dropped
    healthy["ok"] = True
    assert poll(make_poller(redis_client, degraded_after=3)[0], source).status == "ok"
    evs = events(redis_client)
    assert [e["type"] for e in evs] == ["feed.degraded", "feed.recovered"]
    assert evs[1]["schema"] == "newswire.feed.v1" and evs[1]["id"] == source.id
    assert orjson.loads(evs[1]["data"])["after_errors"] == 6
    assert store.get(source.id).status == "ok"


def test_410_retires_the_feed(server: ScriptedServer, redis_client: redis.Redis) -> None:
    server.routes["/gone"] = lambda h: h.reply(410)
    source = FeedSource(url=server.url("/gone"))
    poller, _ = make_poller(redis_client)
    poller.store.ensure_scheduled([source.id], 0)
    outcome = poll(poller, source)
    assert outcome.status == "failed" and outcome.error_class == "gone"
    assert (
        poller.store.due_at(source.id) is None and poller.store.get(source.id).status == "retired"
    )
    assert [e["type"] for e in events(redis_client)] == ["feed.retired"]
    registry = FeedRegistry(redis_client, KEYS)
    assert registry.merge([source]) == []
    again = make_poller(redis_client)[0]
    assert asyncio.run(again.poll_all([source])) == [] and server.hits["/gone"] == 1
    registry.add(source)  # re-added by the operator: polled again
    assert registry.merge([source]) == [source]


def test_404_is_a_failure_with_backoff(server: ScriptedServer, redis_client: redis.Redis) -> None:
    outcome = poll(make_poller(redis_client)[0], FeedSource(url=server.url("/missing")))
    assert outcome.status == "failed" and outcome.error_class == "http_4xx"
    assert (
        outcome.next_poll_in_s >= 300 * 4 * 0.8 and "backoff (http_4xx)" in outcome.next_poll_reason
    )


def test_301_persisted_after_n_sightings_302_never(
    server: ScriptedServer, redis_client: redis.Redis
) -> None:
    server.routes["/old"] = lambda h: h.reply(301, Location="/new")
    server.routes["/temp"] = lambda h: h.reply(302, Location="/new")
    server.routes["/new"] = lambda h: h.reply(200, rss(1), ETag='"n"')
    old, temp = FeedSource(url=server.url("/old"), name="Old"), FeedSource(url=server.url("/temp"))
    registry = FeedRegistry(redis_client, KEYS)
    for _ in range(2):
        assert poll(make_poller(redis_client)[0], old).status in ("ok", "unchanged")
        assert registry.moves() == {}
    for _ in range(5):
        poll(make_poller(redis_client)[0], temp)
    assert registry.moves() == {}
    poll(make_poller(redis_client)[0], old)
    assert registry.moves() == {old.url: server.url("/new")}
    merged = registry.merge([old, temp])
    assert merged[0] == FeedSource(url=server.url("/new"), name="Old")
    moved = [e for e in events(redis_client) if e["type"] == "feed.moved"]
    assert len(moved) == 1 and orjson.loads(moved[0]["data"])["sightings"] == 3
    store = RedisFeedStore(redis_client, KEYS)
    assert store.due_at(old.id) is None and store.get(merged[0].id).etag == '"n"'


def test_politeness_limits_concurrency_per_host_across_replicas(
    server: ScriptedServer, redis_client: redis.Redis
) -> None:
    def slow(h: Handler) -> None:
        time.sleep(0.3)
        h.reply(200, rss(1, tag=h.path.strip("/")))

    feeds = []
    for i in range(8):
        server.routes[f"/s{i}"] = slow
        feeds.append(FeedSource(url=server.url(f"/s{i}")))
    a, _ = make_poller(redis_client, host_concurrency=2, host_spacing_s=0.1)
    b, _ = make_poller(redis_client, host_concurrency=2, host_spacing_s=0.1)

    async def both() -> list[FeedOutcome]:
        try:
            got = await asyncio.gather(a.poll_all(feeds[:4]), b.poll_all(feeds[4:]))
            return got[0] + got[1]
        finally:
            await a.fetcher.aclose()  # type: ignore[attr-defined]
            await b.fetcher.aclose()  # type: ignore[attr-defined]

    outcomes = asyncio.run(both())
    assert [o.status for o in outcomes] == ["ok"] * 8
    assert server.max_in_flight == 2
    starts = sorted(t for _, t in server.starts)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.09
