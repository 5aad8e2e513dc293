"""A real Celery worker process on a real redis-server (no eager mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from services.core.models import ArticleEvent, FeedRef, RawEntry
from services.core.normalise import normalise
from tests.conftest import CeleryWorker
from workers.tasks import process_batch

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("celery")]
NOW = datetime(2021, 9, 13, tzinfo=UTC)


STORIES = [
    "UNHCR says families fleeing the Taliban are seeking asylum in Pakistan after Kabul fell.",
    "Aid groups report that Afghan evacuees arriving in Germany will apply for asylum this week.",
    "Thousands of refugees are stranded at the Iranian border as winter closes the passes.",
    "Resettlement flights carrying Afghan interpreters and their families land in Canada.",
    "A new refugee camp near the Tajik border shelters displaced Afghans who fled the fighting.",
    "Greece extends its border wall as officials fear a new wave of Afghan asylum seekers.",
]


def payload(n: int, prefix: str, offset: int = 0) -> list[dict[str, object]]:
    feed = FeedRef(id="f_w", url="https://w.example/rss")
    items = []
    for i in range(offset, offset + n):
        raw = RawEntry(
            link=f"https://w.example/{prefix}/{i}",
            title=f"Afghan refugees reach camp {prefix} {i}",
            summary_html=STORIES[i % len(STORIES)],
        )
        article = normalise(raw, feed=feed, fetched_at=NOW)
        assert article is not None
        items.append(article.model_dump(mode="json"))
    return items


def test_batch_is_published_and_a_redelivered_batch_adds_nothing(
    celery_worker_proc: CeleryWorker,
) -> None:
    client = redis.Redis.from_url(celery_worker_proc.redis_url)
    batch = payload(5, "redeliver")
    first = process_batch.apply_async(args=[batch]).get(timeout=120)
    assert first["published"] == 5
    assert first["topics"].get("refugees") == 5
    before = client.xlen("newswire:articles")
    second = process_batch.apply_async(args=[batch]).get(timeout=60)
    third = process_batch.apply_async(args=[batch[:2] + payload(1, "fresh", offset=5)]).get(
        timeout=60
    )
    assert second["published"] == 0 and second["replayed"] == 5
    assert third["published"] == 1
    assert client.xlen("newswire:articles") == before + 1
    fields = client.xrevrange("newswire:topic:refugees", count=1)[0][1]
    assert ArticleEvent.model_validate_json(fields[b"data"]).topics[0].slug == "refugees"


def test_malformed_payload_goes_to_the_dlq(celery_worker_proc: CeleryWorker) -> None:
    client = redis.Redis.from_url(celery_worker_proc.redis_url)
    result = process_batch.apply_async(args=[[{"title": "no id, no url"}]]).get(timeout=60)
    assert result["rejected"] == 1
    ((_, fields),) = client.xrevrange("newswire:dlq", count=1)
    assert b"invalid article payload" in fields[b"error"]


def test_one_malformed_article_does_not_sink_its_batch(celery_worker_proc: CeleryWorker) -> None:
    client = redis.Redis.from_url(celery_worker_proc.redis_url)
    bad = {"title": "no id, no url"}
    good = payload(2, "mixed", offset=7)
    result = process_batch.apply_async(args=[[good[0], bad, good[1]]]).get(timeout=60)
    assert result["rejected"] == 1
    assert result["published"] + result["near_duplicates"] + result["duplicates"] == 2
    ((_, fields),) = client.xrevrange("newswire:dlq", count=1)
    assert json.loads(fields[b"payload"]) == [bad]


def _newswire(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSWIRE_REDIS_URL": redis_url, "NEWSWIRE_LOG_FORMAT": "json"}
    cli = Path(sys.executable).with_name("newswire")
    cmd = [str(cli), *args]
    return subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=60)


def test_dead_lettered_batch_is_replayed_through_the_worker(
    celery_worker_proc: CeleryWorker,
) -> None:
    client = redis.Redis.from_url(celery_worker_proc.redis_url)
    client.delete("newswire:dlq")
    batch = payload(3, "dlq")
    fields = {"type": "batch.failed", "error": "gave up after 10 retries: Redis down",
              "payload": json.dumps(batch), "at": NOW.isoformat()}  # fmt: skip
    entry = client.xadd("newswire:dlq", fields).decode()
    listed = _newswire(celery_worker_proc.redis_url, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {"id": entry, "type": "batch.failed", "error": fields["error"], "at": fields["at"],
         "articles": 3, "replayable": True, "problem": ""}
    ]  # fmt: skip
    replay = _newswire(celery_worker_proc.redis_url, "dlq", "replay", entry)
    assert replay.returncode == 0, replay.stderr
    assert "replayed 1 entries (3 articles)" in replay.stdout
    assert client.xlen("newswire:dlq") == 0
    ids = {a["id"] for a in batch}  # published, or recorded as a copy of an earlier test's story
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        streams = ("newswire:articles", "newswire:duplicates")
        handled = {f[b"id"].decode() for s in streams for _, f in client.xrange(s)}
        if ids <= handled:
            break
        time.sleep(0.2)
    assert ids <= handled
    missing = _newswire(celery_worker_proc.redis_url, "dlq", "replay", "1-1")
    assert missing.returncode == 2 and "no DLQ entry 1-1" in missing.stderr
