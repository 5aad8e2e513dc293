import pytest

from services.core.errors import ConfigError
from services.core.models import FeedSource
from services.opml import parse_opml, to_opml

FEEDS = [
    FeedSource(url="https://a.example/rss?x=1&y=2", name="A & B <news>", tags=("world", "un")),
    FeedSource(url="http://b.example/feed"),
]


def test_round_trip() -> None:
    assert parse_opml(to_opml(FEEDS)) == FEEDS


def test_nested_categories_become_tags_and_bad_urls_are_dropped() -> None:
    doc = b"""<?xml version="1.0"?><opml version="1.0"><body>
    <outline text="World"><outline text="BBC" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/></outline>
    <outline text="evil" xmlUrl="file:///etc/passwd"/>
    <outline text="js" xmlUrl="javascript:alert(1)"/>
    </body></opml>"""
    assert parse_opml(doc) == [
        FeedSource(url="https://feeds.bbci.co.uk/news/world/rss.xml", name="BBC", tags=("World",))
    ]


def test_entities_are_not_expanded(tmp_path: object) -> None:
    doc = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <opml><body><outline text="&x;" xmlUrl="https://a.example/rss"/></body></opml>"""
    feeds = parse_opml(doc)
    assert [f.url for f in feeds] == ["https://a.example/rss"]
    assert "root:" not in (feeds[0].name or "")


def test_str_is_refused() -> None:
    with pytest.raises(TypeError):
        parse_opml("https://example.com/list.opml")  # type: ignore[arg-type]


def test_garbage_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_opml(b"\x00\x01 not xml <<<")
