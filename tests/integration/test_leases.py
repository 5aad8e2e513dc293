"""Two poller replicas on one redis-server: one fetch per feed per due period; takeover."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from services.core.models import FeedSource
from services.poller.leases import Leases
from tests.conftest import ROOT
from tests.integration.test_poller import KEYS, Handler, ScriptedServer, make_poller, rss

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer({})
    yield srv
    srv.shutdown()
    srv.server_close()


def test_lease_is_exclusive_and_released_only_by_its_owner(redis_client: redis.Redis) -> None:
    a, b = Leases(redis_client, KEYS, ttl_s=5), Leases(redis_client, KEYS, ttl_s=5)
    token = a.acquire("f1")
    assert token is not None and b.acquire("f1") is None
    assert not b.release("f1", "not-the-token") and a.holder("f1") == token
    assert a.release("f1", token) and b.acquire("f1") is not None


def test_two_replicas_fetch_each_feed_once(
    server: ScriptedServer, redis_client: redis.Redis
) -> None:
    def feed(h: Handler) -> None:
        time.sleep(0.05)
        h.reply(200, rss(1, tag=h.path.strip("/")))

    feeds = []
    for i in range(12):
        server.routes[f"/f{i}"] = feed
        feeds.append(FeedSource(url=server.url(f"/f{i}")))
    a, sent_a = make_poller(redis_client)
    b, sent_b = make_poller(redis_client)

    async def run() -> None:
        try:
            for _ in range(3):  # three ticks each, concurrently: one due period
                await asyncio.gather(a.tick(lambda: feeds), b.tick(lambda: feeds))
        finally:
            await a.fetcher.aclose()  # type: ignore[attr-defined]
            await b.fetcher.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())
    assert server.hits == {f"/f{i}": 1 for i in range(12)}
    assert len(sent_a) + len(sent_b) == 12  # each article enqueued once, by whichever replica


CHILD = """
import asyncio, sys, redis
from services.core.models import FeedSource
from tests.integration.test_poller import make_poller
poller, _ = make_poller(redis.Redis.from_url(sys.argv[1]), lease_s=2.0)
asyncio.run(poller.poll_feed(FeedSource(url=sys.argv[2])))
"""


def test_killed_replica_feed_taken_over_within_one_lease(
    server: ScriptedServer, redis_url: str, redis_client: redis.Redis
) -> None:
    def hang_first(h: Handler) -> None:
        if server.hits["/slow"] == 1:
            time.sleep(4)  # replica A is killed while it waits here
            return
        h.reply(200, rss(1))

    server.routes["/slow"] = hang_first
    source = FeedSource(url=server.url("/slow"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, redis_url, source.url], cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 20
        while server.hits.get("/slow", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.hits.get("/slow") == 1, "replica A never fetched"
        os.kill(child.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        child.wait(timeout=10)
    b, sent = make_poller(redis_client, lease_s=2.0)
    b.store.ensure_scheduled([source.id], 0)

    async def take_over() -> float:
        try:
            while True:
                outcomes = await b.tick(lambda: [source])
                if outcomes:
                    return time.monotonic()
                await asyncio.sleep(0.1)
        finally:
            await b.fetcher.aclose()  # type: ignore[attr-defined]

    took_over_at = asyncio.run(asyncio.wait_for(take_over(), 10))
    assert took_over_at - killed_at <= 2.5  # within one lease period (2 s) + a tick
    assert server.hits["/slow"] == 2 and len(sent) == 1
