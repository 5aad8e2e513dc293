"""Near-duplicate dedupe under real concurrency and on real feeds (real redis-server).

4 worker processes publish copies of one story at the same moment (a barrier): exactly one
`article.published` may come out, the other three are `article.duplicate` of that story.
Ingesting both BBC captures twice never yields two topic-stream entries for one story.
"""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
import redis

from services.adapters.keys import Keys
from services.adapters.publisher import RedisPublisher
from services.core.classify import Classifier
from services.core.dedupe import clean_title
from services.core.enrich import enrich
from services.core.models import Article, ArticleEvent, FeedRef, RawEntry
from services.core.normalise import normalise
from services.core.taxonomy import load_taxonomy
from services.pipeline import process_batch
from services.poller.digest import digest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KEYS = Keys("race")
WORKERS = 4
STORIES = [
    (
        "Afghan refugees crowd Pakistan border crossing at Torkham",
        "Thousands of Afghan families fleeing the Taliban gathered at the Torkham crossing on "
        "Monday, the UNHCR said, as Pakistani guards let a few hundred asylum seekers through.",
    ),
    (
        "UN warns Iran deportations leave Afghan refugees stranded in Herat",
        "Iranian authorities deported more than 2,000 Afghans through the Islam Qala border in a "
        "week, aid agencies in Herat reported, leaving refugees without shelter or food.",
    ),
    (
        "Greece extends border wall as it braces for refugees from Afghanistan",
        "Athens finished a 40km fence along the Evros river with Turkey and added surveillance "
        "cameras, the citizen protection minister said, fearing a new wave of asylum seekers.",
    ),
]


SUFFIXES = ["", " - Daily Planet", "", " | The Courier"]
OUTLETS = ["", "the Daily Planet", "Wire Service", "The Courier staff"]


def copy_of(story: int, worker: int) -> Article:
    """Worker `worker`'s outlet's copy of story `story`: own URL, feed and small edits."""
    title, text = STORIES[story]
    title += SUFFIXES[worker]
    text = text if worker == 0 else f"{text} Reporting by {OUTLETS[worker]}."
    feed = FeedRef(id=f"f_outlet{worker}", url=f"https://outlet{worker}.example/rss")
    raw = RawEntry(
        link=f"https://outlet{worker}.example/news/{story}", title=title, summary_html=text
    )
    article = normalise(raw, feed=feed, fetched_at=datetime.now(UTC))
    assert article is not None
    return article


def race_worker(url: str, worker: int, rounds: int, barrier: Barrier, out: Any) -> None:
    """One worker process: for each round, wait for the others, then publish its copy."""
    client = redis.Redis.from_url(url)
    publisher = RedisPublisher(client, KEYS, ttl_s=3600, maxlen_articles=1000, maxlen_topic=1000)
    classifier = Classifier(load_taxonomy(ROOT / "config" / "topics.yaml"))
    for story in range(rounds):
        article = copy_of(story, worker)
        barrier.wait(timeout=60)
        report = process_batch(
            [article], classifier=classifier, enricher=enrich, publisher=publisher
        )
        out.put((story, worker, report.as_dict()))


def test_four_processes_racing_copies_publish_one_story(
    redis_url: str, redis_client: redis.Redis
) -> None:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
    rounds = len(STORIES)
    procs = [
        ctx.Process(target=race_worker, args=(redis_url, w, rounds, barrier, out))
        for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in range(WORKERS * rounds)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    for story in range(rounds):
        reports = [r for s, _, r in results if s == story]
        assert sum(int(r["published"]) for r in reports) == 1, reports  # type: ignore[call-overload]
        assert sum(int(r["near_duplicates"]) for r in reports) == WORKERS - 1  # type: ignore[call-overload]
    published = [
        ArticleEvent.model_validate_json(f[b"data"]) for _, f in redis_client.xrange(KEYS.articles)
    ]
    dups = [
        ArticleEvent.model_validate_json(f[b"data"])
        for _, f in redis_client.xrange(KEYS.duplicates)
    ]
    assert len(published) == rounds
    assert redis_client.xlen(KEYS.topic("refugees")) == rounds
    assert len(dups) == rounds * (WORKERS - 1)
    story_ids = {e.id for e in published}
    assert all(d.type == "article.duplicate" and d.story.id in story_ids for d in dups)
    for e in published:  # each story's three copies point at its one published article
        assert sum(d.story.duplicate_of == e.id for d in dups) == WORKERS - 1


def ingest(
    path: Path, publisher: RedisPublisher, classifier: Classifier, fetched: datetime
) -> None:
    feed_url = "https://feeds.bbci.co.uk/news/rss.xml"
    result = digest(path.read_bytes(), feed_id="f_bbc", feed_url=feed_url, fetched_at=fetched,
                    max_entries=500)  # fmt: skip
    process_batch(
        list(result.articles), classifier=classifier, enricher=enrich, publisher=publisher
    )


def test_ingesting_both_bbc_captures_twice_gives_one_topic_entry_per_story(
    corpus_feeds: Path, redis_client: redis.Redis
) -> None:
    publisher = RedisPublisher(
        redis_client, KEYS, ttl_s=3600, maxlen_articles=10_000, maxlen_topic=10_000
    )
    classifier = Classifier(load_taxonomy(ROOT / "config" / "topics.yaml"))
    captures = [
        corpus_feeds / "bbc-news-home-2021-09-20.xml",
        corpus_feeds / "bbc-news-home-2021-09-21-recapture.xml",
    ]
    start = datetime(2021, 9, 20, 12, tzinfo=UTC)
    for n, path in enumerate(captures * 2):
        ingest(path, publisher, classifier, start + timedelta(hours=17 * n))
    topic_keys = [k.decode() for k in redis_client.keys(KEYS.topic("*"))]
    assert topic_keys, "the BBC captures should put some stories into topic streams"
    for key in topic_keys:
        events = [ArticleEvent.model_validate_json(f[b"data"]) for _, f in redis_client.xrange(key)]
        for attr in ("id", "canonical_url"):
            values = [getattr(e, attr) for e in events]
            assert len(values) == len(set(values)), (key, attr)
        titles = [clean_title(e.title) for e in events]
        assert len(titles) == len(set(titles)), key
    articles = [
        ArticleEvent.model_validate_json(f[b"data"]) for _, f in redis_client.xrange(KEYS.articles)
    ]
    firsts = [e for e in articles if e.type == "article.published"]
    assert len({e.canonical_url for e in firsts}) == len(firsts)
