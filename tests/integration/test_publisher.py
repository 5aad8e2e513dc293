"""RedisPublisher against a real redis-server: atomic claim + XADD, idempotent, retention."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from services.adapters.keys import Keys
from services.adapters.publisher import RedisPublisher
from services.core.models import ArticleEvent, FeedRef, Story
from services.pipeline import Publication

pytestmark = pytest.mark.integration
NOW = datetime(2021, 9, 13, tzinfo=UTC)


def publication(article_id: str, keys: tuple[str, ...], topics: tuple[str, ...] = ()) -> Publication:
    event = ArticleEvent(
        id=article_id, url=f"https://x.example/{article_id}", canonical_url=f"https://x.example/{article_id}",
        title=f"title {article_id}", summary="s", fetched_at=NOW, processed_at=NOW,
        feed=FeedRef(id="f", url="https://x.example/rss"), story=Story(id=article_id), content_hash="h",
    )  # fmt: skip
    return Publication(event=event, identity_keys=keys, topics=topics)


def make_publisher(client: redis.Redis, maxlen: int = 1000) -> RedisPublisher:
    return RedisPublisher(client, Keys("nw"), ttl_s=3600, maxlen_articles=maxlen, maxlen_topic=maxlen)


def test_publish_writes_entry_fields_to_article_and_topic_streams(redis_client: redis.Redis) -> None:
    outcome = make_publisher(redis_client).publish([publication("a1", ("id:a1",), ("refugees",))])[0]
    assert outcome.status == "published"
    assert len(outcome.stream_ids) == 2
    (entry_id, fields), = redis_client.xrange("nw:topic:refugees")
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
    assert other[0].status == "duplicate" and other[0].existing_id == "a1"
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
