"""RedisPublisher against a real redis-server: atomic claim + XADD, idempotent, retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from services.adapters.keys import Keys
from services.adapters.memory import InMemoryPublisher
from services.adapters.publisher import RedisPublisher
from services.core.classify import Classifier
from services.core.enrich import enrich
from services.core.models import Article, ArticleEvent, FeedRef, RawEntry, Story
from services.core.normalise import normalise
from services.core.taxonomy import load_taxonomy
from services.pipeline import HOT_BAND, Publication, Publisher, prepare, process_batch

pytestmark = pytest.mark.integration
NOW = datetime(2021, 9, 13, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def publication(
    article_id: str, keys: tuple[str, ...], topics: tuple[str, ...] = ()
) -> Publication:
    event = ArticleEvent(
        id=article_id, url=f"https://x.example/{article_id}",
        canonical_url=f"https://x.example/{article_id}",
        title=f"title {article_id}", summary="s", fetched_at=NOW, processed_at=NOW,
        feed=FeedRef(id="f", url="https://x.example/rss"), story=Story(id=article_id),
        content_hash="h",
    )  # fmt: skip
    return Publication(event=event, identity_keys=keys, topics=topics)


def make_publisher(client: redis.Redis, maxlen: int = 1000) -> RedisPublisher:
    return RedisPublisher(
        client, Keys("nw"), ttl_s=3600, maxlen_articles=maxlen, maxlen_topic=maxlen
    )


def test_publish_writes_entry_fields_to_article_and_topic_streams(
    redis_client: redis.Redis,
) -> None:
    outcome = make_publisher(redis_client).publish([publication("a1", ("id:a1",), ("refugees",))])[
        0
    ]
    assert outcome.status == "published"
    assert len(outcome.stream_ids) == 2
    ((_, fields),) = redis_client.xrange("nw:topic:refugees")
    assert fields[b"type"] == b"article.published"
    assert fields[b"id"] == b"a1"
    assert fields[b"schema"] == b"newswire.article.v1"
    assert ArticleEvent.model_validate_json(fields[b"data"]).id == "a1"
    assert redis_client.xlen("nw:articles") == 1


def test_replay_and_duplicates_never_add_entries(redis_client: redis.Redis) -> None:
    publisher = make_publisher(redis_client)
    first = publisher.publish([publication("a1", ("id:a1", "guid:f:g1"), ("refugees",))])
    replay = publisher.publish([publication("a1", ("id:a1", "guid:f:g1"), ("refugees",))])
    other = publisher.publish([publication("a2", ("id:a2", "guid:f:g1"))])  # same GUID, other URL
    assert first[0].status == "published"
    assert replay[0].status == "replayed"
    assert other[0].status == "replayed" and other[0].existing_id == "a1"  # same article
    assert redis_client.xlen("nw:articles") == 1
    assert redis_client.xlen("nw:topic:refugees") == 1


def test_identity_keys_expire(redis_client: redis.Redis) -> None:
    make_publisher(redis_client).publish([publication("a1", ("id:a1",))])
    ttl = redis_client.ttl(Keys("nw").identity("id:a1"))
    assert 3500 < ttl <= 3600


def test_approximate_maxlen_bounds_streams(redis_client: redis.Redis) -> None:
    publisher = make_publisher(redis_client, maxlen=100)
    publisher.publish([publication(f"a{i}", (f"id:a{i}",)) for i in range(1000)])
    assert 100 <= redis_client.xlen("nw:articles") < 400


STORY = (
    "Rescue teams in the Nepalese capital Kathmandu pulled 14 survivors from a collapsed "
    "hotel on Tuesday after a magnitude 6.1 earthquake struck the Himalayan nation, officials said."
)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_taxonomy(ROOT / "config" / "topics.yaml"))


def art(link: str, title: str, text: str, feed: str = "f_a", guid: str | None = None) -> Article:
    ref = FeedRef(id=feed, url=f"https://{feed}.example/rss")
    raw = RawEntry(link=link, title=title, summary_html=text, guid=guid)
    result = normalise(raw, feed=ref, fetched_at=NOW)
    assert result is not None
    return result


FIRST = art(
    "https://wire.example/quake", "Nepal earthquake: 14 pulled alive from hotel", STORY, guid="q1"
)
SCENARIO = [
    [FIRST],
    [FIRST],  # replay
    [art("https://wire.example/quake?utm_source=x", FIRST.title + " - BBC News", STORY, guid="q1")],
    [art("https://wire.example/quake", FIRST.title, STORY + " Aftershocks continued.", guid="q1")],
    [
        art(
            "https://paper.example/nepal",
            FIRST.title + " rubble",
            STORY.replace("said", "say"),
            "f_b",
        )
    ],
    [art("https://mirror.example/q", FIRST.title, STORY + " Aftershocks continued.", "f_c")],
    [art("https://n.example/other", "Central bank holds rates", "Inflation cooled in August.")],
]
EXPECTED = [
    "published",
    "replayed",
    "replayed",
    "updated",
    "near_duplicate",
    "duplicate",
    "published",
]


def statuses(publisher: Publisher, classifier: Classifier) -> list[str]:
    out = []
    for batch in SCENARIO:
        items = publisher.publish([_prepared(a, classifier) for a in batch])
        out.append(items[0].status)
    return out


def _prepared(a: Article, classifier: Classifier) -> Publication:
    return prepare(a, classifier, enrich, NOW)


def test_lua_and_in_memory_fake_agree_on_a_scenario(
    redis_client: redis.Redis, classifier: Classifier
) -> None:
    assert statuses(make_publisher(redis_client), classifier) == EXPECTED
    assert statuses(InMemoryPublisher(), classifier) == EXPECTED
    assert redis_client.xlen("nw:articles") == 3  # published, updated, published
    assert redis_client.xlen("nw:duplicates") == 2
    dup = ArticleEvent.model_validate_json(redis_client.xrange("nw:duplicates")[0][1][b"data"])
    assert dup.story.id == FIRST.id and dup.story.duplicate_of == FIRST.id
    kinds = [f[b"type"] for _, f in redis_client.xrange("nw:articles")]
    assert kinds == [b"article.published", b"article.updated", b"article.published"]


def test_near_dup_state_expires_with_its_window(
    redis_client: redis.Redis, classifier: Classifier
) -> None:
    publisher = RedisPublisher(
        redis_client, Keys("nw"), ttl_s=3600, maxlen_articles=100, maxlen_topic=100,
        near_window_s=7200,
    )  # fmt: skip
    publisher.publish([_prepared(FIRST, classifier)])
    sig_keys = redis_client.keys("nw:sig:*")
    buckets = redis_client.keys("nw:lsh:*")
    assert len(sig_keys) == 1 and buckets
    assert 7100 < redis_client.ttl(sig_keys[0]) <= 7200
    assert all(7200 < redis_client.ttl(b) <= 86400 + 7200 for b in buckets)


def test_batch_with_copies_in_it_publishes_the_story_once(
    redis_client: redis.Redis, classifier: Classifier
) -> None:
    copies = [
        art(f"https://outlet{i}.example/story", FIRST.title, STORY + " " + "x" * i, f"f_{i}")
        for i in range(1, 5)
    ]
    report = process_batch(
        copies, classifier=classifier, enricher=enrich, publisher=make_publisher(redis_client)
    )
    assert (report.published, report.near_duplicates) == (1, 3)
    assert redis_client.xlen("nw:articles") == 1


def test_a_band_shared_by_a_whole_batch_settles_and_freezes_when_hot(
    redis_client: redis.Redis, classifier: Classifier
) -> None:
    """40 different items sharing one band key (a recurring series title): all published,
    the shared field stops growing at HOT_BAND handles; the fake agrees."""
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
    ]
    batch = []
    for i in range(40):
        text = " ".join(words[(i + k * 7) % len(words)] + str(i * k) for k in range(12))
        item = _prepared(
            art(f"https://pod.example/{i}", f"Weekly show {words[i % 12]}", text), classifier
        )
        batch.append(replace(item, band_keys=(*item.band_keys, "w0aaaaaaaa")))
    for publisher in (make_publisher(redis_client), InMemoryPublisher()):
        assert {o.status for o in publisher.publish(batch)} == {"published"}
    (bucket,) = redis_client.keys("nw:lsh:*:w0aa")
    assert len(redis_client.hget(bucket, "aaaaaa")) == 12 * HOT_BAND
