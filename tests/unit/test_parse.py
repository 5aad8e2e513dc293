import gzip

import pytest

from services.core.errors import ParseError
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
