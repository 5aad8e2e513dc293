"""Every real-world document in ../shared/corpus/feeds goes through parse → normalise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.core.errors import ParseError
from services.poller.digest import digest
from tests.conftest import SHARED

DOCS = sorted(p for p in (SHARED / "corpus" / "feeds").glob("*") if p.name != "PROVENANCE.md")
NOW = datetime(2021, 9, 13, tzinfo=UTC)


def body_of(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    return data


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_document_parses_or_is_reported(corpus_feeds: Path, path: Path) -> None:
    try:
        result = digest(
            body_of(path),
            feed_id="f",
            feed_url="https://feed.example/x",
            fetched_at=NOW,
            max_entries=1000,
        )
    except ParseError as exc:
        assert str(exc)  # a clear message, never a crash
        return
    for article in result.articles:
        assert article.url.startswith(("http://", "https://"))
        assert article.published_at is None or article.published_at.tzinfo is not None
        assert len(article.title) <= 500


def test_corpus_yields_thousands_of_articles(corpus_feeds: Path) -> None:
    total = 0
    for path in DOCS:
        try:
            total += len(
                digest(
                    body_of(path),
                    feed_id=path.name,
                    feed_url="https://feed.example/x",
                    fetched_at=NOW,
                    max_entries=1000,
                ).articles
            )
        except ParseError:
            continue
    assert total >= 1500
