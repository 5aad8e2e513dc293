"""parse_jsonfeed on the corpus JSON Feeds and on small fixtures (1.0, 1.1, sloppy, invalid)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.core.errors import ParseError
from services.core.jsonfeed import parse_date, parse_jsonfeed


def doc(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T",
        "items": [],
    }
    base.update(fields)
    return json.dumps(base).encode()


def test_corpus_v1_inessential(corpus_feeds: Path) -> None:
    feed = parse_jsonfeed((corpus_feeds / "jsonfeed-inessential-v1.json").read_bytes())
    assert feed.format == "json10"
    assert feed.title == "inessential.com"
    assert feed.link == "http://inessential.com/"
    assert feed.self_url == "http://inessential.com/feed.json"
    assert len(feed.entries) == 20
    first = feed.entries[0]
    assert first.authors == ("Brent Simmons",)  # feed-level `author` (1.0) inherited
    assert first.link == first.guid
    assert first.link is not None and first.link.startswith("http://inessential.com/2017/")
    assert first.content_html is not None and "<p>" in first.content_html
    assert all(e.published_at is not None and e.published_at.tzinfo is UTC for e in feed.entries)


def test_corpus_v11_rfc822_dates_and_authors(corpus_feeds: Path) -> None:
    feed = parse_jsonfeed(
        (corpus_feeds / "jsonfeed-influxdata-v1.1-rfc822-dates.json").read_bytes()
    )
    assert feed.format == "json11"
    assert feed.title == "Blog \u2013 InfluxData"
    first = feed.entries[0]
    assert first.published_at == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)
    assert first.updated_at == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)
    assert first.authors[0] == "Chris Churilo"  # `authors` (1.1) wins over `author`
    assert "Fake Author 2" not in first.authors
    assert "InfluxDB" in first.categories
    assert first.content_html is not None and "&" not in first.content_html.replace("&amp;", "")


def test_corpus_v11_escaped_slashes(corpus_feeds: Path) -> None:
    feed = parse_jsonfeed((corpus_feeds / "jsonfeed-v1.1-escaped-slashes.json").read_bytes())
    assert feed.format == "json11"
    assert feed.link == "https://lukedorny.com"
    assert len(feed.entries) == 30
    first = feed.entries[0]
    assert first.link == "https://lukedorny.com/updates/new-font"
    assert first.summary_html == "A Journey with links"
    assert first.published_at is not None and first.published_at.tzinfo is UTC


def test_v11_item_fields() -> None:
    body = doc(
        home_page_url="https://example.org/blog/",
        feed_url="https://example.org/feed.json",
        hubs=[{"type": "WebSub", "url": "https://hub.example.net/"}],
        authors=[{"name": "Feed Author"}],
        items=[
            {
                "id": 42,
                "url": "posts/1",
                "title": "Tom &amp; Jerry",
                "summary": "Short <b>plain</b> text",
                "content_text": "Body with <tags> & ampersands",
                "tags": ["world", " ", 3, "refugees"],
                "date_published": "2024-03-01T10:00:00.123456789+02:00",
                "date_modified": "2024-03-02t08:00:00z",
                "authors": [{"name": "Ann"}, {"url": "https://no-name"}, {"name": "Ann"}],
            },
            {"id": "b", "external_url": "/elsewhere", "content_html": "<p>Hi</p>"},
            {"id": "c", "url": "javascript:alert(1)", "title": "evil"},
            "not an object",
        ],
    )
    feed = parse_jsonfeed(body)
    assert feed.hub_url == "https://hub.example.net/"
    assert feed.problem is not None and "1 item" in feed.problem
    first, second, third = feed.entries
    assert first.guid == "42"
    assert first.link == "https://example.org/blog/posts/1"
    assert first.title == "Tom & Jerry"
    assert first.summary_html == "Short &lt;b&gt;plain&lt;/b&gt; text"
    assert first.content_html == "Body with &lt;tags&gt; &amp; ampersands"
    assert first.categories == ("world", "refugees")
    assert first.authors == ("Ann",)
    assert first.published_at == datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert first.updated_at == datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    assert second.link == "https://example.org/elsewhere"
    assert second.summary_html == "<p>Hi</p>"  # no summary: falls back to the content
    assert second.authors == ("Feed Author",)
    assert third.link is None  # only absolute http(s) links


def test_v10_author_and_missing_version_with_items() -> None:
    body = json.dumps(
        {"items": [{"id": "1", "author": {"name": "Old Style"}, "content_text": "x"}]}
    ).encode()
    feed = parse_jsonfeed(body)
    assert feed.format == "json10"
    assert feed.entries[0].authors == ("Old Style",)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_bom_and_wide_encodings(encoding: str) -> None:
    feed = parse_jsonfeed(doc(title="Café").decode().encode(encoding))
    assert feed.title == "Café"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not valid JSON"),
        (b"{'single': 'quotes'}", "not valid JSON"),
        (b"<rss/>", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b'"just a string"', "not an object"),
        (b'{"version": "https://example.com/feed", "items": []}', "'version'"),
        (b'{"title": "no version, no items"}', "'version'"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": {}}', "'items' must be a list"),
    ],
)
def test_invalid_documents_raise_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_jsonfeed(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2010-02-07T14:04:00-05:00", datetime(2010, 2, 7, 19, 4, tzinfo=UTC)),
        ("2010-02-07T14:04:00Z", datetime(2010, 2, 7, 14, 4, tzinfo=UTC)),
        ("2010-02-07 14:04:00", datetime(2010, 2, 7, 14, 4, tzinfo=UTC)),
        ("Sun, 07 Feb 2010 14:04:00 GMT", datetime(2010, 2, 7, 14, 4, tzinfo=UTC)),
        ("Sun, 07 Feb 2010 14:04:00 +0100", datetime(2010, 2, 7, 13, 4, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (1265551440, None),
    ],
)
def test_parse_date(value: Any, expected: datetime | None) -> None:
    assert parse_date(value) == expected
