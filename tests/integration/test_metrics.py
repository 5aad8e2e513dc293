"""Prometheus metrics against a real redis-server: counters agree with the streams.

The batch test runs the real pipeline (classifier, enricher, RedisPublisher), records it
with `observe_batch` as the worker does, scrapes `/metrics` over HTTP and compares.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from services.adapters.feedstate import FeedState, RedisFeedStore
from services.adapters.keys import Keys
from services.adapters.publisher import RedisPublisher
from services.core.classify import Classifier
from services.core.enrich import enrich
from services.core.models import Article, FeedRef
from services.core.taxonomy import load_taxonomy
from services.health import start_health_server
from services.metrics import (
    RedisCollector,
    StageTimer,
    exposition_registry,
    observe_batch,
    observe_e2e,
    observe_fetch,
)
from services.pipeline import process_batch

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KEYS = Keys("nwm")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
TEXTS = [
    (
        "Taliban delegation holds talks with Pakistan in Doha",
        "The Taliban met envoys on recognition.",
    ),
    ("UNHCR: Afghan refugees forced back from Iran", "Refugees and asylum seekers were deported."),
    (
        "Taliban talks in Doha stall as UNHCR warns of refugees",
        "Asylum seekers flee; Taliban envoys meet.",
    ),
    ("Football results", "The match ended 2-1."),
]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def article(n: int, title: str, body: str) -> Article:
    url = f"https://news.example/{n}"
    return Article(
        id=f"a{n}", url=url, canonical_url=url, title=title, summary=body,
        fetched_at=datetime.now(UTC), feed=FeedRef(id="f1", url="https://news.example/rss"),
        content_hash=f"h{n}",
    )  # fmt: skip


def test_scraped_counters_agree_with_streams(redis_url: str, redis_client: redis.Redis) -> None:
    collector = RedisCollector(lambda: redis.Redis.from_url(redis_url), KEYS, discover_every_s=0)
    server = start_health_server(0, "127.0.0.1", registry=exposition_registry(collector))
    try:
        before = scrape(server.url)
        publisher = RedisPublisher(
            redis_client, KEYS, ttl_s=3600, maxlen_articles=1000, maxlen_topic=1000
        )
        classifier = Classifier(load_taxonomy(ROOT / "config" / "topics.yaml"))
        batch = [article(i, t, b) for i, (t, b) in enumerate(TEXTS)]
        for attempt in (batch, batch[:2]):  # the second batch is all duplicates (replays)
            timer = StageTimer()
            with timer.stage("publish"):
                report = process_batch(
                    attempt, classifier=classifier, enricher=enrich, publisher=publisher
                )
            observe_batch(
                report.published, report.duplicates, report.topics, timer.seconds,
                replayed=report.replayed,
            )  # fmt: skip
        after = scrape(server.url)
    finally:
        server.stop()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    published = delta("newswire_articles_total", result="published")
    assert published == redis_client.xlen(KEYS.articles) == len(TEXTS)
    assert delta("newswire_articles_total", result="replayed") == 2
    for slug in ("refugees", "taliban-diplomacy"):
        in_stream = redis_client.xlen(KEYS.topic(slug))
        assert in_stream == 2, slug
        assert delta("newswire_classifications_total", topic=slug) == in_stream
        assert value(after, "newswire_stream_length", stream=KEYS.topic(slug)) == in_stream
    assert value(after, "newswire_stream_length", stream=KEYS.articles) == len(TEXTS)
    assert delta("newswire_stage_duration_seconds_count", stage="publish") == 2
    assert value(after, "newswire_redis_up") == 1


def test_fetch_helpers_count_status_bytes_and_304() -> None:
    registry = exposition_registry()
    labels = {"status": "unchanged", "error_class": "none"}
    get = registry.get_sample_value
    before = {
        "fetches": get("newswire_fetches_total", labels) or 0.0,
        "not_modified": get("newswire_fetch_not_modified_total") or 0.0,
        "bytes": get("newswire_fetch_bytes_total") or 0.0,
        "entries": get("newswire_entries_parsed_total") or 0.0,
        "e2e": get("newswire_fetch_to_publish_seconds_count") or 0.0,
    }
    observe_fetch("unchanged", None, 304, 120, 0.05)
    observe_fetch("ok", None, 200, 5000, 0.2, entries=7, new=3)
    observe_fetch("failed", "timeout", None, 0, 20.0)
    observe_e2e(1.5)
    assert get("newswire_fetches_total", labels) == before["fetches"] + 1
    assert (get("newswire_fetches_total", {"status": "failed", "error_class": "timeout"}) or 0) >= 1
    assert get("newswire_fetch_not_modified_total") == before["not_modified"] + 1
    assert get("newswire_fetch_bytes_total") == before["bytes"] + 5120
    assert get("newswire_entries_parsed_total") == before["entries"] + 7
    assert get("newswire_fetch_to_publish_seconds_count") == before["e2e"] + 1


def test_redis_collector_reports_groups_queue_dlq_and_feeds(
    redis_url: str, redis_client: redis.Redis
) -> None:
    for i in range(5):
        redis_client.xadd(KEYS.articles, {"type": "article.published", "id": f"a{i}"})
    redis_client.xgroup_create(KEYS.articles, "slow", id="0")
    redis_client.xreadgroup("slow", "c1", {KEYS.articles: ">"}, count=2)
    redis_client.xadd(KEYS.dlq, {"type": "batch.failed", "error": "boom"})
    redis_client.rpush("newswire", "t1", "t2", "t3")
    store = RedisFeedStore(redis_client, KEYS)
    store.save("ok1", FeedState(status="ok", next_poll_at=1.0))
    store.save("bad1", FeedState(status="degraded", next_poll_at=1.0))
    registry = CollectorRegistry()
    registry.register(RedisCollector(lambda: redis.Redis.from_url(redis_url), KEYS, topics=[]))
    get = registry.get_sample_value
    group = {"stream": KEYS.articles, "group": "slow"}
    assert get("newswire_stream_group_lag", group) == 3
    assert get("newswire_stream_group_pending", group) == 2
    assert get("newswire_queue_depth", {"queue": "newswire"}) == 3
    assert get("newswire_dlq_entries") == 1
    assert get("newswire_feeds", {"status": "degraded"}) == 1
    assert get("newswire_feeds", {"status": "ok"}) == 1


def test_redis_collector_reports_down_when_redis_is_unreachable() -> None:
    dead = "redis://127.0.0.1:1/0"
    registry = CollectorRegistry()
    registry.register(RedisCollector(lambda: redis.Redis.from_url(dead), KEYS))
    assert registry.get_sample_value("newswire_redis_up") == 0
    assert registry.get_sample_value("newswire_stream_length", {"stream": KEYS.articles}) is None


CHILD = textwrap.dedent(
    """
    import os
    from pathlib import Path
    from services.metrics import enable_multiprocess, observe_batch
    enable_multiprocess(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]), wipe=False)
    observe_batch(3, 1, {"refugees": 2}, {"classify": 0.01})
    """
)


def test_multiprocess_children_are_aggregated(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    for _ in range(2):  # two processes, like two prefork children
        subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT, check=True, timeout=30)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    get = registry.get_sample_value
    assert get("newswire_articles_total", {"result": "published"}) == 6
    assert get("newswire_articles_total", {"result": "duplicate"}) == 2
    assert get("newswire_classifications_total", {"topic": "refugees"}) == 4
    assert get("newswire_stage_duration_seconds_count", {"stage": "classify"}) == 2


def test_grafana_dashboard_uses_only_exported_metric_names(
    redis_url: str, redis_client: redis.Redis
) -> None:
    import json
    import re

    observe_fetch("ok", None, 200, 10, 0.1, entries=1, new=1)
    observe_batch(1, 1, {"refugees": 1}, {"publish": 0.01})
    observe_e2e(0.5)
    redis_client.xgroup_create(KEYS.articles, "g", id="0", mkstream=True)
    registry = exposition_registry(RedisCollector(lambda: redis.Redis.from_url(redis_url), KEYS))
    exported = {s.name for family in registry.collect() for s in family.samples}
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "dashboards" / "newswire.json").read_text()
    )
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for e in exprs for name in re.findall(r"newswire_[a-z_]+", e)}
    assert len(used) >= 15
    assert used <= exported, used - exported
