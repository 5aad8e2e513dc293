import gzip
import xml.sax

import feedparser.api
import pytest

from services.core.errors import ParseError
from services.core.feedparser_speedups import _BufferedExpatReader
from services.core.parse import parse_feed

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<link>https://t.example/</link><item><title>One</title><link>/a/1</link><guid>g1</guid></item>
</channel></rss>"""


def test_relative_links_resolve_against_the_fetched_url() -> None:
    feed = parse_feed(RSS, base_url="https://t.example/feeds/rss.xml")
    assert feed.entries[0].link == "https://t.example/a/1"


def test_a_gzip_file_served_without_content_encoding_is_read() -> None:
    assert parse_feed(gzip.compress(RSS)).entries[0].title == "One"


def test_a_gzip_bomb_body_is_refused() -> None:
    bomb = gzip.compress(b"<rss>" + b" " * (80 * 1024 * 1024))
    with pytest.raises(ParseError, match="inflates beyond"):
        parse_feed(bomb)


def test_not_a_feed_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_feed(b"\x00\x01 definitely not xml")


ATOM_WITH_BASES = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example/world/">
  <title>t</title>
  <entry xml:base="africa/"><title>a</title><id>urn:a</id><link href="story-1"/></entry>
  <entry><title>b</title><id>urn:b</id><link href="story-2"/></entry>
  <entry xml:base="javascript:alert(1)//"><title>c</title><id>urn:c</id>
    <link href="story-3"/></entry>
</feed>"""


def test_nested_xml_base_resolves_per_entry_and_stays_safe() -> None:
    links = [e.link for e in parse_feed(ATOM_WITH_BASES).entries]
    assert links == [
        "https://news.example/world/africa/story-1",
        "https://news.example/world/story-2",
        "https://news.example/world/story-3",  # an unsafe xml:base is ignored
    ]
    again = [e.link for e in parse_feed(ATOM_WITH_BASES).entries]  # memoised resolution
    assert again == links


MULTILINE_TEXT = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Line one
  &amp; line &#8220;two&#8221;</title>
  <entry><id>urn:x</id><link href="https://news.example/x"/>
    <title type="html">&lt;b&gt;Bold&lt;/b&gt;
      and
      more &amp;amp; more</title>
    <summary>  first
  second &lt; third  </summary>
    <content type="xhtml">
      <div xmlns="http://www.w3.org/1999/xhtml">
        <p>para &amp; one</p>
        text
        <p>para two</p>
      </div>
    </content>
  </entry>
</feed>"""


def test_text_split_over_lines_and_entities_parses_as_with_the_stock_sax_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffered = parse_feed(MULTILINE_TEXT)
    assert isinstance(
        xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS), _BufferedExpatReader
    )
    monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", [])  # stdlib expat reader
    stock = parse_feed(MULTILINE_TEXT)
    assert buffered == stock
    assert buffered.entries[0].summary_html == "first\n  second < third"


def test_entry_fields_and_feedparsers_updated_fallback() -> None:
    rss = b"""<rss version="2.0"><channel><title>t</title><item><title>a</title>
    <link>https://news.example/a</link><guid>g-1</guid><author>x@y (Ann)</author>
    <category>World</category><category></category>
    <pubDate>Mon, 13 Sep 2021 10:00:00 GMT</pubDate></item></channel></rss>"""
    (entry,) = parse_feed(rss).entries
    assert (entry.guid, entry.link) == ("g-1", "https://news.example/a")
    assert entry.categories == ("World",)
    assert entry.published_at is not None
    assert entry.updated_at == entry.published_at  # feedparser: no <updated>, use published
