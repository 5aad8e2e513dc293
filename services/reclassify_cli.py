"""`newswire reclassify --since DURATION`: re-score recent articles, emit `article.reclassified`.

Reads `article.published`/`article.updated` events newer than the window from the
articles stream, runs the current taxonomy over them (the workers' Classifier) and
appends an `article.reclassified` event to `articles` and to the stream of every topic
the article now belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import redis
from pydantic import ValidationError

from config.settings import Settings
from services.adapters.keys import Keys
from services.core.classify import Classifier
from services.core.models import SCHEMA_V1, ArticleEvent
from services.core.taxonomy import load_taxonomy
from services.reclassify import reclassify
from services.runtime import redis_url_for

_SOURCE_TYPES = {b"article.published", b"article.updated", b"article.reclassified"}


def recent_events(client: redis.Redis, stream: str, since: timedelta) -> Iterator[ArticleEvent]:
    start_ms = int((datetime.now(UTC) - since).timestamp() * 1000)
    cursor = f"{start_ms}-0"
    while True:
        page = client.xrange(stream, min=cursor, count=500)
        if not page:
            return
        for _entry_id, fields in page:
            if fields.get(b"type") in _SOURCE_TYPES:
                try:
                    yield ArticleEvent.model_validate_json(fields[b"data"])
                except (KeyError, ValidationError):
                    continue
        last = page[-1][0].decode()
        cursor = "(" + last


def run_reclassify(settings: Settings, since: timedelta) -> tuple[int, int]:
    """Return (articles scanned, reclassified events written)."""
    classifier = Classifier(load_taxonomy(settings.topics_file))
    keys = Keys(settings.stream_prefix)
    streams = settings.streams
    scanned = written = 0
    with redis_url_for(settings) as url:
        client = redis.Redis.from_url(url)
        try:
            events = list(recent_events(client, keys.articles, since))
            scanned = len(events)
            latest = {e.id: e for e in events}  # the newest version of each article
            for event in reclassify(latest.values(), classifier, now=datetime.now(UTC)):
                fields = {"type": event.type, "id": event.id, "schema": SCHEMA_V1,
                          "data": event.model_dump_json()}  # fmt: skip
                pipe = client.pipeline(transaction=True)
                pipe.xadd(keys.articles, fields, maxlen=streams.maxlen_articles, approximate=True)
                for topic in event.topics:
                    pipe.xadd(
                        keys.topic(topic.slug),
                        fields,
                        maxlen=streams.maxlen_topic,
                        approximate=True,
                    )
                pipe.execute()
                written += 1
        finally:
            client.close()
    return scanned, written
