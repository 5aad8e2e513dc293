"""`newswire run --once` as a user runs it: corpus feeds over HTTP, a real Redis, a real worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import redis
import yaml

from services.core.models import ArticleEvent
from services.demo.server import FeedServer
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def seed_feed(article: str) -> bytes:
    """An RSS document whose one item is the seed article (title = its first sentence)."""
    body = article.split("2021-09-12", 1)[-1].strip()
    title = body.split(". ")[0]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Seed</title>'
        "<link>https://seed.example/</link><item>"
        f"<title>{escape(title)}</title><link>https://seed.example/2021/09/12/russia-afghan-refugees</link>"
        f"<guid>seed-1</guid><pubDate>Sun, 12 Sep 2021 10:00:00 GMT</pubDate>"
        f"<description>{escape(body)}</description></item></channel></rss>"
    ).encode()


@pytest.fixture(scope="module")
def server(corpus_feeds: Path, seed_article: str) -> Iterator[FeedServer]:
    docs = {
        f"/{p.name}": p.read_bytes()
        for p in sorted(corpus_feeds.iterdir())
        if p.name != "PROVENANCE.md"
    }
    docs["/seed.xml"] = seed_feed(seed_article)
    with FeedServer(docs) as srv:
        yield srv


def newswire(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture
def run_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSWIRE_REDIS_URL": redis_url,
        "NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWIRE_DATA_DIR": str(tmp_path / "data"),
        "NEWSWIRE_LOG_FORMAT": "json",
        "COLUMNS": "200",
    }


def stream_events(client: redis.Redis, key: str) -> list[ArticleEvent]:
    return [ArticleEvent.model_validate_json(f[b"data"]) for _, f in client.xrange(key)]


FETCH_FIELDS = {
    "feed_id", "url", "http_status", "bytes", "duration_s", "not_modified", "entries", "new",
    "error_class", "next_poll_in_s", "next_poll_reason", "correlation_id",
}  # fmt: skip
ARTICLE_FIELDS = {
    "article_id", "story_id", "topics", "duplicate_of", "stream_ids", "stage_seconds",
    "correlation_id", "status",
}  # fmt: skip


def check_canonical_log_lines(stderr: str, *, n_feeds: int, published: set[str]) -> None:
    """One JSON line per fetch and per published article, with the operator's fields."""
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    fetches = [entry for entry in lines if entry.get("event") == "feed.polled"]
    assert len(fetches) == n_feeds
    for entry in fetches:
        assert entry.keys() >= FETCH_FIELDS, FETCH_FIELDS - entry.keys()
    processed = [entry for entry in lines if entry.get("event") == "article.processed"]
    logged = {entry["article_id"] for entry in processed if entry["status"] == "published"}
    assert logged == published, (len(logged - published), len(published - logged))
    for entry in processed:
        assert entry.keys() >= ARTICLE_FIELDS, ARTICLE_FIELDS - entry.keys()
    fetch_ids = {entry["correlation_id"] for entry in fetches}
    # a task carries the ids of every fetch whose articles it holds, joined by commas
    task_ids = {i for entry in processed for i in entry["correlation_id"].split(",")}
    assert task_ids <= fetch_ids
    assert not any("password" in line or ":secret@" in line for line in stderr.splitlines())


def test_corpus_once_then_unchanged(
    server: FeedServer, run_env: dict[str, str], tmp_path: Path
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(yaml.safe_dump({"feeds": [{"url": server.url(p)} for p in server.documents]}))
    first = newswire("run", "--once", "--feeds", str(feeds), env=run_env)
    assert first.returncode == 0, first.stderr[-3000:]
    client = redis.Redis.from_url(run_env["NEWSWIRE_REDIS_URL"])
    everything = stream_events(client, "newswire:articles")
    articles = [e for e in everything if e.type == "article.published"]
    ids = [e.id for e in articles]
    assert len(ids) == len(set(ids)), "an article was published twice"
    assert len(ids) >= 2000
    # the only other events: a later version of an already published article
    assert {e.id for e in everything if e.type == "article.updated"} <= set(ids)
    urls = [e.canonical_url for e in articles]
    assert len(urls) == len(set(urls))

    check_canonical_log_lines(first.stderr, n_feeds=len(server.documents), published=set(ids))

    seed_url = "https://seed.example/2021/09/12/russia-afghan-refugees"
    for topic in ("refugees", "taliban-diplomacy"):
        assert seed_url in {e.url for e in stream_events(client, f"newswire:topic:{topic}")}, topic

    hits_before, not_modified_before = server.hits, server.not_modified
    second = newswire("run", "--once", "--feeds", str(feeds), env=run_env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert client.xlen("newswire:articles") == len(everything), "the second run published something"
    polled = server.hits - hits_before
    answered_304 = server.not_modified - not_modified_before
    assert polled == len(server.documents)
    assert answered_304 == polled, f"only {answered_304}/{polled} answered 304"
    logs = [json.loads(line) for line in second.stderr.splitlines() if line.startswith("{")]
    polled_lines = [entry for entry in logs if entry.get("event") == "feed.polled"]
    assert {entry["status"] for entry in polled_lines} == {"unchanged"}

    sub = newswire(
        "subscribe", "--topic", "refugees", "--from-start", "--count", "1", "--format", "json",
        env=run_env, timeout=60,
    )  # fmt: skip
    assert sub.returncode == 0, sub.stderr
    event = ArticleEvent.model_validate_json(sub.stdout.strip())
    assert event.schema_version == "newswire.article.v1"
    assert any(t.slug == "refugees" for t in event.topics)
