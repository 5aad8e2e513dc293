"""The worker-side orchestrator: dedupe → classify → enrich → publish, for one batch.

It knows the order of the stages and nothing about Celery or Redis: the publisher is
injected (RedisPublisher in production, InMemoryPublisher in unit tests).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from services.core.classify import Classifier
from services.core.models import SCHEMA_V1, Article, ArticleEvent, Enrichment, Story, TopicScore

Enricher = Callable[[str, str], Enrichment]


@dataclass(frozen=True)
class Publication:
    """One article ready to publish: its identity keys, event and target topics."""

    event: ArticleEvent
    identity_keys: tuple[str, ...]
    topics: tuple[str, ...]

    @property
    def data(self) -> str:
        return self.event.model_dump_json()


@dataclass(frozen=True)
class PublishOutcome:
    status: Literal["published", "duplicate", "replayed"]
    stream_ids: tuple[str, ...] = ()
    existing_id: str | None = None


class Publisher(Protocol):
    def publish(self, items: Sequence[Publication]) -> list[PublishOutcome]:
        """Atomically claim identity keys and append events, one outcome per item."""
        ...


@dataclass
class BatchReport:
    published: int = 0
    duplicates: int = 0
    replayed: int = 0
    topics: Counter[str] = field(default_factory=Counter)
    stream_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "published": self.published,
            "duplicates": self.duplicates,
            "replayed": self.replayed,
            "topics": dict(self.topics),
        }


def identity_keys(article: Article) -> tuple[str, ...]:
    """Exact-duplicate keys: the article id (canonical URL identity) and its feed-scoped GUID."""
    keys = [f"id:{article.id}"]
    if article.guid:
        keys.append(f"guid:{article.feed.id}:{article.guid}")
    return tuple(keys)


def build_event(
    article: Article,
    topics: tuple[TopicScore, ...],
    enrichment: Enrichment,
    now: datetime,
) -> ArticleEvent:
    return ArticleEvent(
        schema_version=SCHEMA_V1,
        type="article.published",
        id=article.id,
        url=article.url,
        canonical_url=article.canonical_url,
        title=article.title,
        summary=article.summary,
        content_html=article.content_html,
        authors=article.authors,
        categories=article.categories,
        published_at=article.published_at,
        updated_at=article.updated_at,
        fetched_at=article.fetched_at,
        processed_at=now,
        feed=article.feed,
        language=enrichment.language,
        topics=topics,
        entities=enrichment.entities,
        keyphrases=enrichment.keyphrases,
        word_count=enrichment.word_count,
        story=Story(id=article.id),
        content_hash=article.content_hash,
    )


def prepare(
    article: Article, classifier: Classifier, enricher: Enricher, now: datetime
) -> Publication:
    """Classify and enrich one article into a Publication."""
    topics = classifier.classify(article.title, article.text)
    enrichment = enricher(article.title, article.text)
    event = build_event(article, topics, enrichment, now)
    return Publication(
        event=event,
        identity_keys=identity_keys(article),
        topics=tuple(t.slug for t in topics),
    )


def process_batch(
    articles: Sequence[Article],
    *,
    classifier: Classifier,
    enricher: Enricher,
    publisher: Publisher,
    now: datetime | None = None,
) -> BatchReport:
    """Run one batch through the stages; safe to repeat (publishing is idempotent)."""
    when = now or datetime.now(UTC)
    unique = {a.id: a for a in articles}.values()  # in-batch exact duplicates
    items = [prepare(a, classifier, enricher, when) for a in unique]
    report = BatchReport(duplicates=len(articles) - len(items))
    for item, outcome in zip(items, publisher.publish(items), strict=True):
        if outcome.status == "published":
            report.published += 1
            report.topics.update(item.topics)
            report.stream_ids.extend(outcome.stream_ids)
        elif outcome.status == "replayed":
            report.replayed += 1
        else:
            report.duplicates += 1
    return report
