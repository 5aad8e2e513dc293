"""Prometheus metrics for every newswire process, and a scrape-time Redis collector.

Counters and histograms are created lazily on first use, so a process can switch to
multiprocess mode (Celery prefork children) with `enable_multiprocess()` before it
observes anything. Gauges that describe Redis (queue depth, stream lengths, group lag,
DLQ, feed health) are computed at scrape time by `RedisCollector`, never stored.

Multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR`` (an empty, writable directory) in
the environment of the Celery worker *before it starts* (or call `enable_multiprocess`
first thing); children write mmap files there and `exposition_registry()` aggregates them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from services.adapters.keys import Keys

NS = "newswire"
STAGES = ("parse", "normalise", "classify", "enrich", "publish")
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
E2E_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Metrics:
    """Every counter and histogram newswire records (names follow Prometheus conventions)."""

    fetches: Counter
    not_modified: Counter
    fetch_bytes: Counter
    fetch_duration: Histogram
    entries_parsed: Counter
    articles_enqueued: Counter
    articles: Counter
    classifications: Counter
    stage_duration: Histogram
    e2e_latency: Histogram


def _build(registry: CollectorRegistry) -> Metrics:
    r = registry
    return Metrics(
        fetches=Counter(
            "fetches", "Feed fetches by outcome (ok|unchanged|failed) and error class.",
            ["status", "error_class"], namespace=NS, registry=r,
        ),
        not_modified=Counter(
            "fetch_not_modified", "Fetches answered 304 Not Modified.", namespace=NS, registry=r
        ),
        fetch_bytes=Counter(
            "fetch_bytes", "Bytes received on the wire by fetches.", namespace=NS, registry=r
        ),
        fetch_duration=Histogram(
            "fetch_duration_seconds", "Fetch latency, all hops and the body.",
            namespace=NS, buckets=FETCH_BUCKETS, registry=r,
        ),
        entries_parsed=Counter(
            "entries_parsed", "Feed entries parsed.", namespace=NS, registry=r
        ),
        articles_enqueued=Counter(
            "articles_enqueued", "New articles the poller enqueued for the workers.",
            namespace=NS, registry=r,
        ),
        articles=Counter(
            "articles", "Articles processed by workers, by result (published|duplicate|updated|replayed).",  # noqa: E501
            ["result"], namespace=NS, registry=r,
        ),
        classifications=Counter(
            "classifications", "Published articles classified into each topic.",
            ["topic"], namespace=NS, registry=r,
        ),
        stage_duration=Histogram(
            "stage_duration_seconds", "Time spent per pipeline stage, per batch.",
            ["stage"], namespace=NS, buckets=STAGE_BUCKETS, registry=r,
        ),
        e2e_latency=Histogram(
            "fetch_to_publish_seconds", "End-to-end latency from fetch to publish, per article.",
            namespace=NS, buckets=E2E_BUCKETS, registry=r,
        ),
    )  # fmt: skip


_metrics: Metrics | None = None


def metrics() -> Metrics:
    """The process-wide metrics (created on first use, registered in the default registry)."""
    global _metrics  # noqa: PLW0603 - one lazily built set per process
    if _metrics is None:
        _metrics = _build(REGISTRY)
    return _metrics


def enable_multiprocess(directory: Path, *, wipe: bool = True) -> Path:
    """Switch this process (and children it forks or spawns) to multiprocess mode.

    Call once at start-up, before any observation; `wipe` empties stale files.
    """
    if _metrics is not None and not os.environ.get(MULTIPROC_ENV):
        raise RuntimeError("enable_multiprocess() must run before the first metric is observed")
    if wipe and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return directory


def multiprocess_dir() -> Path | None:
    """The multiprocess directory in force, if any."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def child_exited(pid: int) -> None:
    """Call from Celery's `worker_process_shutdown` signal (prefork children)."""
    if multiprocess_dir() is not None:
        mark_process_dead(pid)  # type: ignore[no-untyped-call]


def exposition_registry(*collectors: Collector) -> CollectorRegistry:
    """The registry `/metrics` serves: multiprocess-aware, plus extra collectors."""
    if multiprocess_dir() is None and not collectors:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    if (path := multiprocess_dir()) is not None:
        MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    else:
        registry.register(_Delegate(REGISTRY))
    for collector in collectors:
        registry.register(collector)
    return registry


class _Delegate(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


# --- helpers the poller and workers call ------------------------------------------


def observe_fetch(
    status: str,
    error_class: str | None,
    http_status: int | None,
    wire_bytes: int,
    seconds: float,
    *,
    entries: int = 0,
    new: int = 0,
) -> None:
    """Record one fetch (status: ok | unchanged | failed)."""
    m = metrics()
    m.fetches.labels(status=status, error_class=error_class or "none").inc()
    if http_status == 304:
        m.not_modified.inc()
    if wire_bytes > 0:
        m.fetch_bytes.inc(wire_bytes)
    m.fetch_duration.observe(max(seconds, 0.0))
    if entries > 0:
        m.entries_parsed.inc(entries)
    if new > 0:
        m.articles_enqueued.inc(new)


def observe_batch(
    published: int,
    duplicates: int,
    topics: Mapping[str, int],
    stage_seconds: Mapping[str, float],
    *,
    updated: int = 0,
    replayed: int = 0,
) -> None:
    """Record one processed batch: results, topics and per-stage durations."""
    m = metrics()
    for result, count in (
        ("published", published),
        ("duplicate", duplicates),
        ("updated", updated),
        ("replayed", replayed),
    ):
        if count > 0:
            m.articles.labels(result=result).inc(count)
    for topic, count in topics.items():
        if count > 0:
            m.classifications.labels(topic=topic).inc(count)
    for stage, seconds in stage_seconds.items():
        m.stage_duration.labels(stage=stage).observe(max(seconds, 0.0))


def observe_e2e(seconds: float) -> None:
    """Record the fetch→publish latency of one published article."""
    metrics().e2e_latency.observe(max(seconds, 0.0))


class StageTimer:
    """Accumulates per-stage seconds: ``with timer.stage("classify"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def stage(self, name: str) -> _Span:
        return _Span(self, name)


class _Span:
    def __init__(self, timer: StageTimer, name: str) -> None:
        self._timer, self._name, self._start = timer, name, 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        elapsed = time.perf_counter() - self._start
        self._timer.seconds[self._name] = self._timer.seconds.get(self._name, 0.0) + elapsed


# --- scrape-time gauges from Redis ----------------------------------------------------


class RedisCollector(Collector):
    """Gauges read from Redis at scrape time: queue, streams, groups, DLQ, feed health.

    `topics`: topic slugs whose streams to report; None discovers them with SCAN
    (cached for `discover_every_s`).
    """

    def __init__(
        self,
        client_factory: Callable[[], redis.Redis],
        keys: Keys,
        *,
        queue: str = "newswire",
        topics: Sequence[str] | None = None,
        discover_every_s: float = 60.0,
    ) -> None:
        self._factory = client_factory
        self._keys = keys
        self._queue = queue
        self._topics = topics
        self._discover_every_s = discover_every_s
        self._discovered: tuple[float, list[str]] = (0.0, [])
        self._client: redis.Redis | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # gauges are dynamic; never read Redis at registration time

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(f"{NS}_redis_up", "1 when Redis answered the last scrape.")
        try:
            families = self._collect(self._client_or_new())
        except redis.RedisError:
            self._client = None
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _client_or_new(self) -> redis.Redis:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _topic_slugs(self, client: redis.Redis) -> list[str]:
        if self._topics is not None:
            return list(self._topics)
        at, slugs = self._discovered
        if time.monotonic() - at > self._discover_every_s or not at:
            from services.status import discover_topics

            slugs = discover_topics(client, self._keys)
            self._discovered = (time.monotonic(), slugs)
        return slugs

    def _collect(self, client: redis.Redis) -> list[Metric]:
        from services.status import feed_states, stream_status

        queue = GaugeMetricFamily(
            f"{NS}_queue_depth", "Tasks waiting in the Celery queue.", labels=["queue"]
        )
        queue.add_metric([self._queue], int(client.llen(self._queue)))
        length = GaugeMetricFamily(
            f"{NS}_stream_length", "Entries in each stream.", labels=["stream"]
        )
        lag = GaugeMetricFamily(
            f"{NS}_stream_group_lag",
            "Entries not yet delivered to each consumer group.",
            labels=["stream", "group"],
        )
        pending = GaugeMetricFamily(
            f"{NS}_stream_group_pending",
            "Delivered but unacknowledged entries per group.",
            labels=["stream", "group"],
        )
        streams = [
            self._keys.articles,
            self._keys.duplicates,
            self._keys.feeds_stream,
            self._keys.dlq,
        ]
        streams += [self._keys.topic(s) for s in self._topic_slugs(client)]
        dlq_size = 0
        for key in streams:
            info = stream_status(client, key)
            length.add_metric([key], info.length)
            dlq_size = info.length if key == self._keys.dlq else dlq_size
            for group in info.groups:
                lag.add_metric(
                    [key, group.name], group.lag if group.lag is not None else float("nan")
                )
                pending.add_metric([key, group.name], group.pending)
        dlq = GaugeMetricFamily(f"{NS}_dlq_entries", "Entries in the dead-letter stream.")
        dlq.add_metric([], dlq_size)
        feeds = GaugeMetricFamily(f"{NS}_feeds", "Known feeds by health status.", labels=["status"])
        counts: dict[str, int] = dict.fromkeys(("new", "ok", "failing", "degraded", "retired"), 0)
        for state in feed_states(client, self._keys).values():
            counts[state.status] = counts.get(state.status, 0) + 1
        for status, count in counts.items():
            feeds.add_metric([status], count)
        return [queue, length, lag, pending, dlq, feeds]  # fmt: skip
