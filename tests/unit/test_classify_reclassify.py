"""reclassify(): re-scoring stored events, and parse_duration() for `--since`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.core.classify import Classifier
from services.core.models import ArticleEvent, FeedRef, Story, TopicScore
from services.core.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy
from services.reclassify import parse_duration, reclassify

T0 = datetime(2023, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier(load_taxonomy(DEFAULT_TAXONOMY_PATH))


def _event(eid: str, title: str, summary: str, topics: tuple[TopicScore, ...] = ()) -> ArticleEvent:
    return ArticleEvent(
        id=eid,
        url=f"https://n.example/{eid}",
        canonical_url=f"https://n.example/{eid}",
        title=title,
        summary=summary,
        fetched_at=T0,
        processed_at=T0,
        feed=FeedRef(id="f", url="https://n.example/rss"),
        topics=topics,
        story=Story(id=eid),
        content_hash="h" + eid,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_parse_duration_accepts_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "1.5h", "-2d", "0h", "3y", "24 hours"])
def test_parse_duration_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_changed_events_are_reissued_as_reclassified(clf: Classifier) -> None:
    stale = _event("a", "Refugees cross the border", "The UN refugee agency opened a camp.")
    unrelated = _event("b", "Central bank holds rates", "Inflation cooled in August.")
    out = list(reclassify([stale, unrelated], clf, now=T0 + timedelta(days=1)))
    assert [e.id for e in out] == ["a"]
    assert out[0].type == "article.reclassified"
    assert [t.slug for t in out[0].topics] == ["refugees"]
    assert out[0].processed_at == T0 + timedelta(days=1)
    assert stale.topics == () and stale.type == "article.published"


def test_unchanged_events_are_skipped_and_removed_topics_reported(clf: Classifier) -> None:
    title, text = "Refugees cross the border", "The UN refugee agency opened a camp."
    current = _event("a", title, text, clf.classify(title, text))
    assert list(reclassify([current], clf)) == []
    wrong = _event("b", "Central bank holds rates", "", (TopicScore(slug="refugees", score=0.9),))
    (fixed,) = reclassify([wrong], clf)
    assert fixed.topics == () and fixed.processed_at == T0


def test_score_change_alone_triggers_reclassification(clf: Classifier) -> None:
    title, text = "Refugees cross the border", "The UN refugee agency opened a camp."
    (score,) = clf.classify(title, text)
    shifted = score.model_copy(update={"score": round(score.score - 0.01, 4)})
    (out,) = reclassify([_event("a", title, text, (shifted,))], clf)
    assert out.topics[0].score == score.score
