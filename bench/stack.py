"""The measured newswire stack: a real redis-server, a real Celery worker, the in-process poller."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil  # type: ignore[import-untyped]
import redis

from config.logging import configure_logging
from config.settings import PollerSettings, Settings, load_settings
from services.adapters.embedded_redis import EmbeddedRedis, _die_with_parent
from services.adapters.keys import Keys
from services.poller.loop import Poller
from services.runner import build_poller

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stack:
    redis_server: EmbeddedRedis
    client: redis.Redis
    settings: Settings
    worker: subprocess.Popen[bytes]
    keys: Keys

    def worker_rss_mb(self) -> float:
        """Resident memory of the Celery worker: main process plus its prefork children."""
        main = psutil.Process(self.worker.pid)
        procs = [main, *main.children(recursive=True)]
        return float(sum(p.memory_info().rss for p in procs if p.is_running())) / 2**20

    def worker_pids(self) -> list[int]:
        main = psutil.Process(self.worker.pid)
        return [main.pid, *(c.pid for c in main.children(recursive=True))]

    def used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def stop(self) -> None:
        if self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
        self.client.close()
        self.redis_server.stop()


# articles per Celery task: the poller coalesces fresh articles of several feeds up to this
# (the config default, NEWSWIRE_POLLER__BATCH_SIZE).
BATCH_SIZE = 150


def bench_settings(redis_url: str) -> Settings:
    """The service's settings for the bench: loopback feeds allowed, and per-host politeness
    (a deliberate rate limit for real sites, still evaluated per fetch) must not turn 2,000
    sites that share 127.0.0.1 into one: no spacing, and a host cap no number of replicas
    (each with `fetch.concurrency` in flight) reaches."""
    base = load_settings(redis_url=redis_url, fetch_allow_private_networks=True)
    poller = PollerSettings(**{**base.poller.model_dump(), "host_spacing_s": 0.0,
                               "host_concurrency": 100 * base.fetch.concurrency,
                               "batch_size": BATCH_SIZE})  # fmt: skip
    return base.model_copy(update={"poller": poller})


def start_stack(data_dir: Path, log_file: IO[bytes], concurrency: int = 2) -> Stack:
    """Start redis-server + `celery worker --concurrency N` and wait until the worker answers."""
    server = EmbeddedRedis(data_dir)
    url = server.start()
    settings = bench_settings(url)
    from workers.celery_app import app, configure

    configure(settings, url)
    env = {**os.environ, "NEWSWIRE_REDIS_URL": url, "NEWSWIRE_LOG_FORMAT": "json"}
    command = [
        sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
        "--loglevel", "WARNING", "--concurrency", str(concurrency),
        "--queues", settings.worker.queue, "--hostname", f"bench-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    worker = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )  # fmt: skip
    _wait_worker(app, worker)
    client = redis.Redis.from_url(url)
    return Stack(server, client, settings, worker, Keys(settings.stream_prefix))


def _wait_worker(app: Any, worker: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(
                "the celery worker exited at start; see bench/results/logs/worker.log"
            )
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError(f"the celery worker did not answer a ping within {timeout_s}s")


def log_to(path: Path) -> None:
    """newswire's own logging set-up (JSON lines, INFO) but written to `path`, not the terminal."""
    configure_logging("INFO", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(path.open("a", encoding="utf-8"))


def _warm_up() -> None:
    import services.poller.digest  # noqa: F401 - import cost paid before the clock starts


def parse_pool(workers: int) -> ProcessPoolExecutor | None:
    if workers <= 0:
        return None
    # spawn, not fork: a forked child inherits live kombu/redis sockets and can hang in
    # kombu's after-fork clean-up (seen here with 2 workers).
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_warm_up)
    for future in [pool.submit(_warm_up) for _ in range(workers)]:
        future.result()
    return pool


def make_poller(stack: Stack, pool: ProcessPoolExecutor | None) -> Poller:
    poller = build_poller(stack.settings, stack.client, once=True)
    poller.executor = pool
    return poller
