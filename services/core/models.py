"""Typed models shared by every stage: the feed, the article and the published event.

`Article` is what the poller produces and the workers consume. `ArticleEvent` is the
wire contract on Redis Streams (schema `newswire.article.v1`); its JSON Schema is
generated into `schemas/` and checked by a test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_V1: Final = "newswire.article.v1"

EventType = Literal[
    "article.published",
    "article.updated",
    "article.duplicate",
    "article.reclassified",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeedSource(_Model):
    """One configured feed (an entry of config/feeds.yaml)."""

    url: str
    name: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        from services.core.ids import feed_id

        return feed_id(self.url)


class FeedRef(_Model):
    """The feed an article came from, as carried in events."""

    id: str
    url: str
    title: str | None = None


class Article(_Model):
    """A normalised article: one entry of one feed, ready for dedupe and classification."""

    id: str = Field(description="Stable id derived from the article's identity.")
    guid: str | None = None
    url: str
    canonical_url: str
    title: str
    summary: str = ""
    content_html: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    fetched_at: datetime
    feed: FeedRef
    content_hash: str

    @property
    def text(self) -> str:
        """Title-less body text used by classify, enrich and dedupe."""
        return self.summary


class Evidence(_Model):
    """Why a topic was assigned: a matched rule or a model's contribution."""

    kind: Literal["term", "phrase", "regex", "proximity", "and", "exclusion", "model", "example"]
    value: str
    field: Literal["title", "body", "both"] | None = None
    weight: float = 0.0


class TopicScore(_Model):
    slug: str
    score: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Evidence, ...] = ()


class Language(_Model):
    code: str
    confidence: float = Field(ge=0.0, le=1.0)


class Place(_Model):
    name: str
    country_code: str | None = Field(default=None, description="ISO 3166-1 alpha-2")


class Entities(_Model):
    persons: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    places: tuple[Place, ...] = ()


class Enrichment(_Model):
    language: Language | None = None
    entities: Entities = Entities()
    keyphrases: tuple[str, ...] = ()
    word_count: int = 0


class Story(_Model):
    """The story an article belongs to; `duplicate_of` is set for syndicated copies."""

    id: str
    duplicate_of: str | None = None
    similarity: float | None = None


class ArticleEvent(_Model):
    """The v1 event published on Redis Streams (field `data` of each stream entry)."""

    schema_version: Literal["newswire.article.v1"] = SCHEMA_V1
    type: EventType = "article.published"
    id: str
    url: str
    canonical_url: str
    title: str
    summary: str
    content_html: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    fetched_at: datetime
    processed_at: datetime
    feed: FeedRef
    language: Language | None = None
    topics: tuple[TopicScore, ...] = ()
    entities: Entities = Entities()
    keyphrases: tuple[str, ...] = ()
    word_count: int = 0
    story: Story
    content_hash: str


class RawEntry(_Model):
    """One entry as the parser saw it, before normalisation."""

    guid: str | None = None
    link: str | None = None
    title: str = ""
    summary_html: str = ""
    content_html: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None


class ParsedFeed(_Model):
    """A parsed feed document. `problem` is set when the document was malformed."""

    format: str = "unknown"
    title: str | None = None
    link: str | None = None
    entries: tuple[RawEntry, ...] = ()
    problem: str | None = None
    hub_url: str | None = None
    self_url: str | None = None
    ttl_minutes: int | None = None
