"""`newswire reclassify` against a real redis-server: new topic → article.reclassified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from config.settings import load_settings
from services.core.models import SCHEMA_V1, ArticleEvent, FeedRef, Story
from services.reclassify_cli import run_reclassify

pytestmark = pytest.mark.integration


def stale_event(article_id: str, title: str, summary: str) -> ArticleEvent:
    now = datetime.now(UTC)
    return ArticleEvent(
        id=article_id,
        url=f"https://r.example/{article_id}",
        canonical_url=f"https://r.example/{article_id}",
        title=title,
        summary=summary,
        fetched_at=now,
        processed_at=now,
        feed=FeedRef(id="f", url="https://r.example/rss"),
        story=Story(id=article_id),
        content_hash="h",
    )


def test_reclassify_emits_events_for_changed_topics(
    redis_url: str, redis_client: redis.Redis
) -> None:
    refugee = stale_event(
        "a_ref",
        "Afghan refugees crowd the border crossing into Pakistan",
        "UNHCR said thousands of families fleeing the Taliban were seeking asylum.",
    )
    unrelated = stale_event("a_rates", "Central bank holds rates", "Inflation eased in August.")
    for event in (refugee, unrelated):
        redis_client.xadd(
            "nw:articles",
            {
                "type": "article.published",
                "id": event.id,
                "schema": SCHEMA_V1,
                "data": event.model_dump_json(),
            },
        )
    settings = load_settings(redis_url=redis_url, stream_prefix="nw")
    scanned, written = run_reclassify(settings, timedelta(hours=1))
    assert (scanned, written) == (2, 1)
    ((_, fields),) = redis_client.xrange("nw:topic:refugees")
    assert fields[b"type"] == b"article.reclassified"
    assert ArticleEvent.model_validate_json(fields[b"data"]).topics[0].slug == "refugees"
    assert run_reclassify(settings, timedelta(hours=1))[1] == 0  # nothing changed since
