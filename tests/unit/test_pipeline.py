"""The worker pipeline with the in-memory publisher (same claim semantics as the Lua script)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.adapters.memory import InMemoryPublisher
from services.core.classify import Classifier
from services.core.enrich import enrich
from services.core.models import ArticleEvent, FeedRef, RawEntry
from services.core.normalise import normalise
from services.core.taxonomy import load_taxonomy
from services.pipeline import process_batch

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2021, 9, 13, tzinfo=UTC)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_taxonomy(ROOT / "config" / "topics.yaml"))


def article(link: str, title: str, text: str, feed: str = "f_a"):  # type: ignore[no-untyped-def]
    ref = FeedRef(id=feed, url=f"https://{feed}.example/rss")
    raw = RawEntry(link=link, title=title, summary_html=text, guid=link)
    result = normalise(raw, feed=ref, fetched_at=NOW)
    assert result is not None
    return result


REFUGEE = article(
    "https://n.example/1",
    "Thousands of Afghan refugees reach the border with Pakistan",
    "UNHCR said families fleeing the Taliban were seeking asylum and shelter in camps.",
)
OTHER = article("https://n.example/2", "Central bank holds rates", "Inflation cooled in August.")


def test_publishes_each_article_once_with_topics(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    report = process_batch([REFUGEE, OTHER], classifier=classifier, enricher=enrich, publisher=publisher, now=NOW)
    assert report.published == 2
    assert report.topics["refugees"] == 1
    assert len(publisher.streams["articles"]) == 2
    assert len(publisher.streams["topic:refugees"]) == 1
    event = ArticleEvent.model_validate_json(publisher.streams["topic:refugees"][0][1])
    assert event.id == REFUGEE.id
    assert event.story.id == REFUGEE.id
    assert event.topics[0].evidence


def test_redelivered_batch_publishes_nothing(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    process_batch([REFUGEE, OTHER], classifier=classifier, enricher=enrich, publisher=publisher)
    again = process_batch([REFUGEE, OTHER], classifier=classifier, enricher=enrich, publisher=publisher)
    assert again.published == 0
    assert again.replayed == 2
    assert len(publisher.streams["articles"]) == 2


def test_same_url_from_another_feed_is_a_duplicate(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    copy = article("http://www.n.example/1?utm_source=x", REFUGEE.title, REFUGEE.summary, feed="f_b")
    report = process_batch([REFUGEE, copy], classifier=classifier, enricher=enrich, publisher=publisher)
    assert report.published == 1
    assert report.duplicates == 1
