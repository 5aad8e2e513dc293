"""Hostile feed content (reliability catalogue S12–S15): sanitised, capped, never read locally."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.core.errors import ParseError
from services.core.parse import parse_feed
from services.poller.digest import digest

NOW = datetime(2021, 9, 13, tzinfo=UTC)


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>H</title>'
        f"<link>https://h.example/</link>{items}</channel></rss>"
    ).encode()


def run(body: bytes, max_entries: int = 1000):  # type: ignore[no-untyped-def]
    return digest(body, feed_id="f", feed_url="https://h.example/rss", fetched_at=NOW,
                  max_entries=max_entries)  # fmt: skip


def test_s12_markup_is_sanitised_to_an_allow_list() -> None:
    content = (
        "<p>ok</p><script>alert(1)</script><iframe src='https://evil.example'></iframe>"
        "<a href='javascript:alert(1)' onclick='x()'>a</a><img src='data:image/png;base64,AAAA'>"
        "<svg onload='alert(1)'></svg><p style='background:url(javascript:alert(1))'>s</p>"
    )
    body = rss(
        "<item><title>t</title><link>https://h.example/1</link>"
        f"<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'><![CDATA[{content}]]>"
        "</content:encoded></item>"
    )
    (article,) = run(body).articles
    html = (article.content_html or "").lower()
    assert "ok" in html
    for bad in ("<script", "<iframe", "javascript:", "onclick", "onload", "data:image", "<svg"):
        assert bad not in html, bad
    assert "alert" not in article.summary


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "data:text/html,x", "vbscript:msgbox(1)", "java\tscript:alert(1)"],
)
def test_s13_only_absolute_http_links_are_emitted(link: str) -> None:
    body = rss(f"<item><title>t</title><link>{link}</link><guid>not a url</guid></item>")
    assert run(body).articles == ()


def test_s14_hostile_volume_is_capped() -> None:
    items = "".join(
        f"<item><title>n{i}</title><link>https://h.example/{i}</link></item>" for i in range(20_000)
    )
    huge_title = (
        "<item><title>" + "A" * 10_000_000 + "</title><link>https://h.example/x</link></item>"
    )
    result = run(rss(huge_title + items), max_entries=1000)
    assert result.entries == 1000
    assert len(result.articles) == 1000
    assert max(len(a.title) for a in result.articles) <= 500


@pytest.mark.parametrize("body", [b"/etc/passwd", b"file:///etc/passwd", b"/app/config/feed.xml"])
def test_s15_a_path_as_body_is_never_read_as_a_file(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(body)
