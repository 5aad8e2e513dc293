import contextlib
import html
import random
import re
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from services.core import textnorm
from services.core.errors import ParseError
from services.core.models import FeedRef, RawEntry
from services.core.normalise import (
    SUMMARY_MAX_CHARS,
    TITLE_MAX_CHARS,
    absolute_http_url,
    normalise,
    plain_text,
)
from services.core.parse import parse_feed

FEED = FeedRef(id="f_1", url="https://news.example/feed.xml", title="Example")
NOW = datetime(2021, 9, 12, tzinfo=UTC)


def make(**fields: object) -> RawEntry:
    return RawEntry.model_validate({"title": "A title", "link": "https://news.example/a", **fields})


def test_plain_text_strips_markup_scripts_and_entities() -> None:
    html = "<p>Refugees&nbsp;<b>arrive</b></p><script>alert(1)</script><br/>in   Kabul &amp; Doha"
    assert plain_text(html) == "Refugees arrive in Kabul & Doha"


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/news/1", "https://site.example/feed", "https://site.example/news/1"),
        ("javascript:alert(1)", "https://site.example/", None),
        ("data:text/html,x", None, None),
        ("ftp://site.example/x", None, None),
        ("https://ok.example/x", None, "https://ok.example/x"),
        ("", None, None),
    ],
)
def test_only_absolute_http_links(link: str, base: str | None, expected: str | None) -> None:
    assert absolute_http_url(link, base) == expected


def test_article_fields_and_stable_id() -> None:
    raw = make(
        link="https://www.News.example/a?utm_source=rss&id=3#top",
        summary_html="<p>Some <i>text</i></p>",
        guid="g-1",
        published_at=datetime(2021, 9, 12, 8, tzinfo=UTC),
    )
    article = normalise(raw, feed=FEED, fetched_at=NOW)
    assert article is not None
    assert article.canonical_url == "https://news.example/a?id=3"
    assert article.summary == "Some text"
    assert article.published_at is not None and article.published_at.tzinfo is not None
    again = normalise(
        raw.model_copy(update={"link": "http://news.example/a?id=3"}), feed=FEED, fetched_at=NOW
    )
    assert again is not None and again.id == article.id


def test_entry_without_usable_link_is_dropped() -> None:
    assert (
        normalise(make(link="javascript:void(0)", guid="not-a-url"), feed=FEED, fetched_at=NOW)
        is None
    )


def test_shared_link_falls_back_to_guid_identity() -> None:
    shared = frozenset({"https://news.example/a"})
    a = normalise(make(guid="g1"), feed=FEED, fetched_at=NOW, shared_links=shared)
    b = normalise(make(guid="g2"), feed=FEED, fetched_at=NOW, shared_links=shared)
    assert a is not None and b is not None and a.id != b.id


def test_content_html_is_sanitised() -> None:
    raw = make(
        content_html='<p onclick="x()">Hi<script>bad()</script><a href="javascript:x">l</a></p>'
    )
    article = normalise(raw, feed=FEED, fetched_at=NOW)
    assert article is not None and article.content_html is not None
    assert "script" not in article.content_html
    assert "onclick" not in article.content_html
    assert "javascript" not in article.content_html


def _textnorm_reference(text: str) -> str:
    """textnorm.normalise as first written (NFKC, translate, regex collapse): the oracle."""
    table = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                           "\u2013": "-", "\u2014": "-"})  # fmt: skip
    text = unicodedata.normalize("NFKC", text).translate(table)
    return re.sub(r"\s+", " ", text).strip().lower()


def test_textnorm_normalise_matches_its_reference_on_every_code_point() -> None:
    chars = [chr(c) for c in range(0x3001) if not 0xD800 <= c <= 0xDFFF]
    samples = ["".join(chars[i : i + 97]) for i in range(0, len(chars), 97)]
    samples += [
        "  \u201cQuoted\u201d \u2013 ASCII\tand\u00a0NBSP\u2028line  ",
        "\ufb01ne \u2460 \uff21 \u0130stanbul \x1c\x1dSep",
        "plain ascii   text\n",
        "",
    ]
    for text in samples:
        assert textnorm.normalise(text) == _textnorm_reference(text), repr(text)


class _ReferenceExtractor(HTMLParser):
    """plain_text's extractor before it learnt to stop early: the oracle."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skipping += tag in ("script", "style", "template")
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self.skipping:
            self.skipping -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _plain_text_reference(markup: str, limit: int) -> str:
    if "<" not in markup:
        return re.sub(r"\s+", " ", html.unescape(markup)).strip()[:limit]
    extractor = _ReferenceExtractor()
    extractor.feed(markup)
    extractor.close()
    return re.sub(r"\s+", " ", "".join(extractor.parts)).strip()[:limit]


# fmt: off
_SOUP = ["<p>", "</p>", "<b class='x<y'>", "</b>", "<script>", "</script>", "<style>",
         "</style >", "<template>", "</template>", "<!-- c -->", "<!--", "-->", "<br/>",
         "<![CDATA[d]]>", "<!DOCTYPE x>", "<?pi?>", "&amp;", "&#8220;", "&#x41", "&nbsp",
         "&", "<", ">", "</", " ", "  ", "\n", "\t", "\u00a0", "word", "é", "longerword"]
# fmt: on


def test_plain_text_stopping_early_matches_a_full_parse_on_tag_soup() -> None:
    rng = random.Random(5)
    for _ in range(4000):
        markup = "<p>" + "".join(rng.choices(_SOUP, k=rng.randint(1, 80)))
        limit = rng.randint(0, 60)
        assert plain_text(markup, limit) == _plain_text_reference(markup, limit), (markup, limit)


def test_plain_text_stopping_early_matches_a_full_parse_on_the_corpus(
    corpus_feeds: Path,
) -> None:
    fields = []
    for path in sorted(p for p in corpus_feeds.iterdir() if p.suffix != ".md"):
        with contextlib.suppress(ParseError):
            for entry in parse_feed(path.read_bytes()).entries:
                fields += [entry.title, entry.summary_html, entry.content_html or ""]
    assert len(fields) > 3000
    for markup in fields:
        for limit in (40, TITLE_MAX_CHARS, SUMMARY_MAX_CHARS):
            assert plain_text(markup, limit) == _plain_text_reference(markup, limit)


@pytest.mark.parametrize(
    "text",
    [
        "Refugees arrive in Kabul. Follow us on Twitter for more.",
        "Plain news text with nothing to drop, twice as long as it needs to be.",
        "Cl\u0131ck here to read. \u017fign up for news. \u212aeep CLICK HERE.",
        "CL\u0130CK HERE now. \u00a9 Copyright 2021 BBC. The post X appeared first on Y.",
        "Caf\u00e9 story; continue reading\nNext line",
        "",
    ],
)
def test_strip_boilerplate_prefilter_never_hides_a_match(text: str) -> None:
    assert textnorm.strip_boilerplate(text) == textnorm._BOILERPLATE.sub(" ", text)


def test_boilerplate_odd_cases_are_all_the_non_ascii_ignorecase_matches() -> None:
    letters = set("".join(textnorm._BOILERPLATE_LEADS)) - {" "}
    odd = {
        (chr(c), letter)
        for letter in letters
        for c in range(128, 0x10000)
        if re.fullmatch(letter, chr(c), re.IGNORECASE)
    }
    assert odd == set(textnorm._ODD_CASES)
