"""`newswire run`: Redis (configured or embedded) + a Celery worker process + the poller loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import structlog

from config.settings import Settings
from services.adapters.embedded_redis import _die_with_parent
from services.adapters.feedstate import RedisFeedStore
from services.adapters.keys import Keys
from services.core.errors import ConfigError
from services.core.models import Article, FeedSource
from services.feedlist import load_feeds
from services.health import HealthServer, start_health_server
from services.metrics import RedisCollector, exposition_registry
from services.poller.loop import FeedOutcome, Poller, PollerConfig
from services.poller.schedule import Interval
from services.runtime import fetcher_from_settings, redis_url_for, run_event_loop
from services.websub import CallbackServer, WebSubStore, WebSubSubscriber

log = structlog.get_logger("newswire.run")


@dataclass
class RunSummary:
    feeds_ok: int = 0
    feeds_unchanged: int = 0
    feeds_failed: int = 0
    articles_new: int = 0
    published: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    updated: int = 0
    topics: Counter[str] = field(default_factory=Counter)
    failures: list[FeedOutcome] = field(default_factory=list)

    def add_feeds(self, outcomes: Sequence[FeedOutcome]) -> None:
        for o in outcomes:
            if o.status == "ok":
                self.feeds_ok += 1
            elif o.status == "unchanged":
                self.feeds_unchanged += 1
            else:
                self.feeds_failed += 1
                self.failures.append(o)
            self.articles_new += o.new

    def add_batch(self, report: dict[str, Any]) -> None:
        self.published += int(report.get("published", 0))
        self.duplicates += int(report.get("duplicates", 0)) + int(report.get("replayed", 0))
        self.near_duplicates += int(report.get("near_duplicates", 0))
        self.updated += int(report.get("updated", 0))
        self.topics.update(report.get("topics", {}))


class WorkerProcess:
    """`celery worker` as a child process that dies with us."""

    def __init__(self, settings: Settings, redis_url: str) -> None:
        self._settings = settings
        self._redis_url = redis_url
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "NEWSWIRE_REDIS_URL": self._redis_url,
            "PROMETHEUS_MULTIPROC_DIR": str(
                self._settings.data_dir.resolve() / "metrics" / "worker"
            ),
        }
        command = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
            "--loglevel", self._settings.log_level,
            "--concurrency", str(self._settings.worker.concurrency),
            "--queues", self._settings.worker.queue,
            "--hostname", f"newswire-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        self._proc = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509

    def stop(self, timeout_s: float = 20.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # warm shutdown: finish the current batch
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _enqueue_for(once: bool) -> Any:
    from workers.tasks import CORRELATION_HEADER, process_batch

    def enqueue(batch: list[Article]) -> Any:
        payload = [a.model_dump(mode="json") for a in batch]
        correlation_id = str(structlog.contextvars.get_contextvars().get("correlation_id", ""))
        return process_batch.apply_async(
            args=(payload,),
            ignore_result=not once,
            headers={CORRELATION_HEADER: correlation_id},
        )

    return enqueue


def parse_pool(workers: int) -> Executor | None:
    """A spawn-context pool of parse processes (None: parse inline in the poller).

    Spawn, not fork: a child forked after kombu/redis connections exist can hang in
    kombu's after-fork clean-up.
    """
    if workers <= 0:
        return None
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context)


def build_poller(settings: Settings, client: redis.Redis, *, once: bool) -> Poller:
    """The poller for `settings`; parse processes from `poller.parse_workers`."""
    fetcher = fetcher_from_settings(settings)
    poll = settings.poller
    config = PollerConfig(
        interval=Interval(poll.min_interval_s, poll.max_interval_s, poll.default_interval_s),
        batch_size=poll.batch_size,
        max_entries=poll.max_entries_per_feed,
        concurrency=settings.fetch.concurrency,
        degraded_after=poll.degraded_after,
        moved_after=poll.moved_after,
        lease_s=poll.lease_s,
        host_concurrency=poll.host_concurrency,
        host_spacing_s=poll.host_spacing_s,
        host_max_wait_s=poll.host_max_wait_s,
        websub_fallback_s=poll.websub_fallback_s,
    )
    poller = Poller(
        fetcher=fetcher,
        store=RedisFeedStore(client, Keys(settings.stream_prefix)),
        enqueue=_enqueue_for(once),
        config=config,
        executor=parse_pool(poll.parse_workers),
    )
    # What exists now (modules, settings, feeds) lives as long as the process: frozen, the
    # cyclic GC stops rescanning it (a full collection was ~25 % of a warm round's CPU).
    gc.collect()
    gc.freeze()
    return poller


def start_poller_health(settings: Settings, url: str, client: redis.Redis) -> HealthServer | None:
    """/healthz, /readyz and /metrics (with Redis-derived gauges) for the poller process."""
    port = settings.observability.poller_port
    if port < 0:
        return None
    collector = RedisCollector(
        lambda: redis.Redis.from_url(url, socket_timeout=2),
        Keys(settings.stream_prefix),
        queue=settings.worker.queue,
    )
    try:
        server = start_health_server(
            port,
            settings.observability.host,
            registry=exposition_registry(collector),
            redis_client=client,
        )
    except OSError as exc:
        log.warning("health.unavailable", port=port, error=str(exc))
        return None
    log.info("health.listening", url=server.url)
    return server


def run(
    settings: Settings,
    feeds_path: Path,
    *,
    once: bool,
    redis_url: str | None = None,
    with_worker: bool = True,
    wait_timeout_s: float = 900,
) -> RunSummary:
    """Run the service; with `once`, poll every feed once and wait for every batch."""
    feeds = load_feeds(feeds_path)
    where = contextlib.nullcontext(redis_url) if redis_url else redis_url_for(settings)
    with where as url:
        from workers.celery_app import configure

        configure(settings, url)
        worker = WorkerProcess(settings, url)
        if with_worker:
            worker.start()
        client = redis.Redis.from_url(url)
        health = start_poller_health(settings, url, client)
        callback: CallbackServer | None = None
        try:
            poller = build_poller(settings, client, once=once)
            if once:
                return run_event_loop(_once(poller, feeds, wait_timeout_s))
            callback = start_websub(settings, client, poller)
            run_event_loop(_forever(poller, feeds_path, feeds, settings.poller.tick_s))
            return RunSummary()
        finally:
            worker.stop()
            for server in (health, callback):
                if server is not None:
                    server.stop()
            client.close()


def start_websub(settings: Settings, client: redis.Redis, poller: Poller) -> CallbackServer | None:
    """Serve the WebSub callback and let the poller subscribe to hubs (when enabled)."""
    websub = settings.websub
    if not websub.enabled:
        return None
    if not websub.callback_base_url:
        raise ConfigError("NEWSWIRE_WEBSUB__CALLBACK_BASE_URL is required when WebSub is enabled")
    keys = Keys(settings.stream_prefix)
    server = CallbackServer(
        WebSubStore(client, keys), websub.listen_host, websub.listen_port,
        max_bytes=websub.max_push_bytes,
    ).start()  # fmt: skip
    poller.websub = WebSubSubscriber(
        client,
        keys,
        callback_base_url=websub.callback_base_url,
        lease_s=websub.lease_s,
        allow_private_networks=settings.fetch_allow_private_networks,
        user_agent=settings.fetch.user_agent.format(contact=settings.fetch.contact_url),
    )
    log.info("websub.listening", host=websub.listen_host, port=websub.listen_port)
    return server


async def _once(poller: Poller, feeds: Sequence[FeedSource], wait_timeout_s: float) -> RunSummary:
    summary = RunSummary()
    try:
        feeds = poller.feeds(feeds)  # registry adds, moves and retirements apply
        poller.store.ensure_scheduled((f.id for f in feeds), 0)
        summary.add_feeds(await poller.poll_all(feeds))
    finally:
        await poller.fetcher.aclose()
        if poller.executor is not None:
            poller.executor.shutdown(wait=False, cancel_futures=True)
    for report in await asyncio.to_thread(_join, poller.handles, wait_timeout_s):
        summary.add_batch(report)
    return summary


def _join(handles: Sequence[Any], timeout_s: float) -> list[dict[str, Any]]:
    """Every batch report, read with one MGET per round from the result backend.

    No result consumer (pubsub) per task: stored results are polled every 0.2 s.
    """
    if not handles:
        return []
    backend = handles[0].backend
    if not hasattr(backend, "get_key_for_task"):  # not a key-value backend
        return [h.get(timeout=timeout_s) for h in handles]
    keys = [backend.get_key_for_task(h.id) for h in handles]
    reports: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        pending = [i for i in range(len(keys)) if i not in reports]
        for i, raw in zip(pending, backend.mget([keys[i] for i in pending]), strict=True):
            meta = backend.decode_result(raw) if raw is not None else {}
            if meta.get("status") == "SUCCESS":
                reports[i] = meta["result"]
            elif meta.get("status") == "FAILURE":
                raise backend.exception_to_python(meta["result"])
        if len(reports) == len(keys):
            return [reports[i] for i in range(len(keys))]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(keys) - len(reports)} batches unfinished after {timeout_s}s")
        time.sleep(0.2)


async def _forever(
    poller: Poller, feeds_path: Path, initial: Sequence[FeedSource], tick_s: float
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    current = list(initial)

    def feeds() -> Sequence[FeedSource]:
        nonlocal current
        try:
            current = load_feeds(feeds_path)
        except ConfigError as exc:
            log.error("feeds.invalid", error=str(exc), keeping=len(current))
        return current

    log.info("poller.started", feeds=len(current))
    try:
        await poller.run_forever(feeds, stop, tick_s)
    finally:
        with contextlib.suppress(Exception):
            await poller.fetcher.aclose()
        if poller.websub is not None:
            with contextlib.suppress(Exception):
                await poller.websub.aclose()
        if poller.executor is not None:
            poller.executor.shutdown(wait=False, cancel_futures=True)
        log.info("poller.stopped")
