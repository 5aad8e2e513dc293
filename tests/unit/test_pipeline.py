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
    report = process_batch(
        [REFUGEE, OTHER], classifier=classifier, enricher=enrich, publisher=publisher, now=NOW
    )
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
    again = process_batch(
        [REFUGEE, OTHER], classifier=classifier, enricher=enrich, publisher=publisher
    )
    assert again.published == 0
    assert again.replayed == 2
    assert len(publisher.streams["articles"]) == 2


def test_same_url_from_another_feed_is_a_duplicate(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    copy = article(
        "http://www.n.example/1?utm_source=x", REFUGEE.title, REFUGEE.summary, feed="f_b"
    )
    report = process_batch(
        [REFUGEE, copy], classifier=classifier, enricher=enrich, publisher=publisher
    )
    assert report.published == 1
    assert report.duplicates == 1


STORY = (
    "Rescue teams in the Nepalese capital Kathmandu pulled 14 survivors from a collapsed "
    "hotel on Tuesday after a magnitude 6.1 earthquake struck the Himalayan nation, officials said."
)


def run(publisher: InMemoryPublisher, classifier: Classifier, *items):  # type: ignore[no-untyped-def]
    return process_batch(
        list(items), classifier=classifier, enricher=enrich, publisher=publisher, now=NOW
    )


def events(publisher: InMemoryPublisher, stream: str) -> list[ArticleEvent]:
    return [ArticleEvent.model_validate_json(d) for _, d in publisher.streams.get(stream, [])]


def test_material_edit_is_an_update_with_the_same_id(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    run(publisher, classifier, REFUGEE)
    edited = article(REFUGEE.url, REFUGEE.title + " as winter nears", REFUGEE.summary)
    report = run(publisher, classifier, edited)
    assert report.as_dict()["updated"] == 1 and report.published == 0
    update = events(publisher, "articles")[-1]
    assert (update.type, update.id, update.story.id) == ("article.updated", REFUGEE.id, REFUGEE.id)
    assert len(publisher.streams["topic:refugees"]) == 1
    assert run(publisher, classifier, edited).replayed == 1  # the update itself is not repeated


def test_cosmetic_edit_and_tracking_params_change_nothing(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    run(publisher, classifier, REFUGEE)
    cosmetic = article(
        REFUGEE.url + "?utm_source=rss",
        "  " + REFUGEE.title.upper() + " - BBC News",
        REFUGEE.summary.replace(" ", "  "),
    )
    report = run(publisher, classifier, cosmetic)
    assert (report.replayed, report.updated, report.published) == (1, 0, 0)
    assert len(publisher.streams["articles"]) == 1


def test_near_duplicate_from_another_outlet_joins_the_first_story(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    first = article(
        "https://wire.example/quake", "Nepal earthquake: 14 pulled alive from hotel", STORY
    )
    copy = article(
        "https://paper.example/world/nepal-quake-survivors",
        "Nepal earthquake: 14 pulled alive from hotel rubble",
        STORY.replace("officials said", "according to officials"),
        feed="f_b",
    )
    report = run(publisher, classifier, first, copy)
    assert (report.published, report.near_duplicates) == (1, 1)
    (dup,) = events(publisher, "duplicates")
    assert dup.type == "article.duplicate" and dup.id == copy.id
    assert dup.story.id == first.id and dup.story.duplicate_of == first.id
    assert dup.story.similarity is not None and 0.5 <= dup.story.similarity <= 1.0
    assert [e.id for e in events(publisher, "articles")] == [first.id]
    assert run(publisher, classifier, copy).replayed == 1  # its identity keys were claimed


def test_exact_copy_under_another_url_is_a_duplicate(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    copy = article("https://mirror.example/a", REFUGEE.title, REFUGEE.summary, feed="f_b")
    report = run(publisher, classifier, REFUGEE, copy)
    assert (report.published, report.duplicates) == (1, 1)
    (dup,) = events(publisher, "duplicates")
    assert (dup.story.id, dup.story.similarity) == (REFUGEE.id, 1.0)


def test_series_titles_with_different_text_are_not_merged(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    a = article("https://n.example/pics/1", "Week in pictures: 11 September 2021",
                "Firefighters in California and a royal visit to Wales.")  # fmt: skip
    b = article("https://n.example/pics/2", "Week in pictures: 11 September 2021",
                "A Kabul market reopens and rowers train on the Thames.")  # fmt: skip
    assert run(publisher, classifier, a, b).published == 2


def test_common_path_is_one_round_trip(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    run(publisher, classifier, REFUGEE, OTHER)
    assert publisher.round_trips == 1


# --- exact copies skip classify and enrich (with a peek at the identity keys) ------------
class Counting(Classifier):
    """The real classifier, counting the articles it is asked about."""

    calls = 0

    def classify(self, title: str, text: str):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        return super().classify(title, text)


def peeking(publisher: InMemoryPublisher, classifier: Classifier, *items, peek=None):  # type: ignore[no-untyped-def]
    return process_batch(
        list(items), classifier=classifier, enricher=enrich, publisher=publisher, now=NOW,
        peek=peek or (lambda keys: [publisher.owners.get(k) for k in keys]),
    )  # fmt: skip


def test_an_exact_copy_is_a_duplicate_without_classify_or_enrich() -> None:
    counting = Counting(load_taxonomy(ROOT / "config" / "topics.yaml"))
    publisher = InMemoryPublisher()
    peeking(publisher, counting, REFUGEE)
    Counting.calls = 0
    copy = article("https://other.example/a", REFUGEE.title, REFUGEE.summary, feed="f_b")
    report = peeking(publisher, counting, copy)
    assert (report.duplicates, report.published, Counting.calls) == (1, 0, 0)
    (dup,) = events(publisher, "duplicates")
    assert (dup.id, dup.story.duplicate_of, dup.story.similarity) == (copy.id, REFUGEE.id, 1.0)
    assert dup.topics == () and dup.language is None


def test_with_a_peek_updates_replays_and_publishes_are_unchanged(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    assert peeking(publisher, classifier, REFUGEE, OTHER).published == 2
    assert peeking(publisher, classifier, REFUGEE).replayed == 1
    edited = article(REFUGEE.url, REFUGEE.title + " as winter nears", REFUGEE.summary)
    assert peeking(publisher, classifier, edited).updated == 1
    assert events(publisher, "articles")[-1].topics  # the update is classified


def test_a_stale_peek_falls_back_to_the_full_path(classifier: Classifier) -> None:
    publisher = InMemoryPublisher()
    stale = f"someone-else|{REFUGEE.content_hash[:16]}"  # gone from the store by now
    report = peeking(publisher, classifier, REFUGEE, peek=lambda keys: [stale] * len(keys))
    assert report.published == 1
    (event,) = events(publisher, "articles")
    assert event.id == REFUGEE.id and event.topics and event.language is not None
