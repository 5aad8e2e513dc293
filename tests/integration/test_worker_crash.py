"""A worker child killed mid-batch loses nothing and duplicates nothing (acks_late +
task_reject_on_worker_lost + idempotent publishing), with a real Celery worker."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from celery import Celery

from services.adapters.embedded_redis import EmbeddedRedis
from services.core.models import FeedRef, RawEntry
from services.core.normalise import normalise
from tests.conftest import ROOT
from workers.tasks import PROCESS_BATCH

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("crash")]
NOW = datetime(2021, 9, 13, tzinfo=UTC)
BATCH = 1500


def payload() -> list[dict[str, object]]:
    feed = FeedRef(id="f_crash", url="https://c.example/rss")
    items = []
    words = [f"w{n}" for n in range(5000)]
    for i in range(BATCH):
        rng = random.Random(i)
        raw = RawEntry(
            link=f"https://c.example/story/{i}",
            title=" ".join(rng.choices(words, k=8)),
            summary_html=" ".join(rng.choices(words, k=60)),
        )
        article = normalise(raw, feed=feed, fetched_at=NOW)
        assert article is not None
        items.append(article.model_dump(mode="json"))
    return items


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    server.start()
    env = {**os.environ, "NEWSWIRE_REDIS_URL": server.url, "NEWSWIRE_LOG_LEVEL": "WARNING",
           "NEWSWIRE_OBSERVABILITY__WORKER_PORT": "-1"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--concurrency", "1",
         "--queues", "newswire", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    yield server.url, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    server.stop()


def settled(client: redis.Redis) -> int:
    """Articles published plus copies recorded as duplicates."""
    return int(client.xlen("newswire:articles")) + int(client.xlen("newswire:duplicates"))


def child_pids(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def test_killed_child_mid_batch_is_redelivered_without_duplicates(
    worker: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = worker
    sender = Celery("crash-test", broker=url)  # its own app: the shared one stays untouched
    client = redis.Redis.from_url(url)
    sender.send_task(PROCESS_BATCH, args=(payload(),), queue="newswire", ignore_result=True)
    deadline = time.monotonic() + 60
    while not client.hlen("unacked"):  # delivered to the worker, not acknowledged (acks_late)
        assert time.monotonic() < deadline, "the worker never took the batch"
        time.sleep(0.01)
    time.sleep(0.3)  # the child is classifying and enriching 1,500 articles
    assert client.xlen("newswire:articles") == 0, "the batch was published before the kill"
    (child,) = child_pids(proc.pid)
    os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while settled(client) < BATCH:
        assert time.monotonic() < deadline, (
            f"only {settled(client)} of {BATCH} settled; queue {client.llen('newswire')},"
            f" unacked {client.hlen('unacked')}"
        )
        time.sleep(0.2)
    time.sleep(1)
    ids = [f[b"id"] for _, f in client.xrange("newswire:articles")]
    assert len(ids) == len(set(ids)), "an article was published twice"
    assert settled(client) == BATCH
    client.close()
    sender.close()
