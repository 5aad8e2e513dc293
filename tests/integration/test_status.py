"""`collect_status` against a real redis-server (and a real Celery worker): it agrees with Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from celery import Celery
from rich.console import Console

from services.adapters.feedstate import FeedState, RedisFeedStore
from services.adapters.keys import Keys
from services.core.models import FeedSource
from services.status import Retention, StatusReport, collect_status, render_status, stream_status
from tests.conftest import CeleryWorker

pytestmark = pytest.mark.integration
KEYS = Keys("nws")
FEEDS = [
    FeedSource(url="https://ok.example/rss", name="OK feed"),
    FeedSource(url="https://bad.example/rss", name="Bad feed"),
    FeedSource(url="https://fresh.example/rss", name="Fresh feed"),
]
RETENTION = Retention(articles=1000, topic=500, other=100)


def populate(client: redis.Redis) -> None:
    now = time.time()
    store = RedisFeedStore(client, KEYS)
    store.save(
        FEEDS[0].id,
        FeedState(
            url=FEEDS[0].url,
            status="ok",
            last_success_at=now - 60,
            next_poll_at=now + 840,
            next_poll_reason="interval",
        ),
    )
    store.save(FEEDS[1].id, FeedState(url=FEEDS[1].url, status="degraded", consecutive_errors=6,
                                      last_error_class="timeout", next_poll_at=now + 3600,
                                      next_poll_reason="backoff"))  # fmt: skip
    for i in range(7):
        client.xadd(KEYS.articles, {"type": "article.published", "id": f"a{i}"})
    for i in range(3):
        client.xadd(KEYS.topic("refugees"), {"type": "article.published", "id": f"a{i}"})
    client.xadd(KEYS.dlq, {"type": "batch.failed", "error": "boom"})
    client.xadd(KEYS.dlq, {"type": "batch.failed", "error": "bang"})
    client.xgroup_create(KEYS.articles, "indexer", id="0")
    client.xreadgroup("indexer", "idx-1", {KEYS.articles: ">"}, count=4)
    first: Any = client.xrange(KEYS.articles, count=1)
    client.xack(KEYS.articles, "indexer", first[0][0])


def test_status_agrees_with_redis(redis_url: str, redis_client: redis.Redis) -> None:
    populate(redis_client)
    report = collect_status(redis_client, KEYS, None, FEEDS, retention=RETENTION)
    by_id = {f.id: f for f in report.feeds}
    assert by_id[FEEDS[0].id].status == "ok" and by_id[FEEDS[0].id].next_poll_reason == "interval"
    bad = by_id[FEEDS[1].id]
    assert (bad.status, bad.consecutive_errors, bad.last_error_class) == ("degraded", 6, "timeout")
    assert by_id[FEEDS[2].id].status == "new" and by_id[FEEDS[2].id].last_success_at is None
    streams = {s.key: s for s in report.streams}
    assert set(streams) >= {KEYS.articles, KEYS.duplicates, KEYS.dlq, KEYS.topic("refugees")}
    for key, s in streams.items():
        assert s.length == redis_client.xlen(key)
        if s.length:
            head: Any = redis_client.xrange(key, count=1)
            tail: Any = redis_client.xrevrange(key, count=1)
            first, last = head[0][0].decode(), tail[0][0].decode()
            assert (s.first_id, s.last_id) == (first, last)
    assert streams[KEYS.articles].retention_maxlen == 1000
    assert streams[KEYS.topic("refugees")].retention_maxlen == 500
    (group,) = streams[KEYS.articles].groups
    raw = redis_client.xinfo_groups(KEYS.articles)[0]
    assert (group.name, group.lag, group.pending) == ("indexer", raw["lag"], raw["pending"])
    assert (group.lag, group.pending) == (3, 3)
    assert [c.name for c in group.consumers] == ["idx-1"] and group.consumers[0].pending == 3
    assert report.dlq_size == redis_client.xlen(KEYS.dlq) == 2
    assert report.workers is None
    again = StatusReport.model_validate(json.loads(report.model_dump_json()))
    assert again == report


def test_computed_lag_matches_redis_lag(redis_client: redis.Redis) -> None:
    populate(redis_client)
    from services.status import _computed_lag

    info = stream_status(redis_client, KEYS.articles)
    group = info.groups[0]
    assert (
        _computed_lag(redis_client, KEYS.articles, group.last_delivered_id, info.length)
        == group.lag
    )
    assert _computed_lag(redis_client, KEYS.articles, "0-0", info.length) == info.length


def test_render_shows_every_section(redis_client: redis.Redis) -> None:
    populate(redis_client)
    report = collect_status(redis_client, KEYS, None, FEEDS, retention=RETENTION)
    console = Console(record=True, width=200)
    render_status(report, console)
    text = console.export_text()
    for expected in ("OK feed", "degraded", "backoff", KEYS.articles, "MAXLEN ~1,000",
                     "indexer", "idx-1", "DLQ: 2 entries", "Workers: not inspected"):  # fmt: skip
        assert expected in text, expected


def test_no_workers_online_is_tolerated(redis_url: str, redis_client: redis.Redis) -> None:
    app = Celery("probe", broker=redis_url)
    started = time.monotonic()
    report = collect_status(redis_client, KEYS, app, FEEDS)
    assert report.workers == [] and report.workers_error is None
    assert time.monotonic() - started < 5
    app.close()


@pytest.mark.xdist_group("celery")
def test_workers_are_listed_from_a_real_worker(celery_worker_proc: CeleryWorker) -> None:
    from workers.celery_app import app

    client = redis.Redis.from_url(celery_worker_proc.redis_url)
    deadline = time.monotonic() + 25
    report = collect_status(client, KEYS, app, [])
    while not report.workers and time.monotonic() < deadline:
        time.sleep(0.5)
        report = collect_status(client, KEYS, app, [])
    client.close()
    assert report.workers, "the worker never answered celery inspect"
    (worker,) = report.workers
    assert worker.active == 0 and worker.processed >= 0 and worker.pool_processes == 1
