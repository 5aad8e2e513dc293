"""xmlguard: DOCTYPE/ENTITY neutralisation before feedparser, and format sniffing."""

from __future__ import annotations

import gzip
import io
import time
from pathlib import Path
from typing import Any

import feedparser
import pytest

from services.core.xmlguard import neutralise_doctype, sniff_format

RSS_TAIL = (
    '<rss version="2.0"><channel><title>{title}</title><link>https://example.org/</link>'
    "<item><title>Item one</title><link>https://example.org/1</link></item></channel></rss>"
)
DECL = '<?xml version="1.0" encoding="{enc}"?>\n'


def parse(body: bytes) -> Any:
    return feedparser.parse(io.BytesIO(neutralise_doctype(body)))


def longest_field(result: Any) -> int:
    fields = [str(v) for v in result.feed.values()]
    fields += [str(v) for entry in result.entries for v in entry.values()]
    return max((len(f) for f in fields), default=0)


def billion_laughs(single_line: bool) -> bytes:
    ents = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        ref = f"&lol{i - 1};" if i > 1 else "&lol;"
        ents.append(f'<!ENTITY lol{i} "{ref * 10}">')
    sep = "" if single_line else "\n"
    doctype = f"<!DOCTYPE rss [{sep}{sep.join(ents)}{sep}]>{sep}"
    return (DECL.format(enc="utf-8") + doctype + RSS_TAIL.format(title="&lol9;")).encode()


def quadratic_blowup(enc: str = "utf-8", entity_size: int = 50_000, refs: int = 4000) -> bytes:
    doctype = f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * entity_size}">\n]>\n'
    return (DECL.format(enc=enc) + doctype + RSS_TAIL.format(title="&a;" * refs)).encode(enc)


@pytest.mark.parametrize("single_line", [False, True])
def test_billion_laughs_is_not_expanded(single_line: bool) -> None:
    started = time.perf_counter()
    result = parse(billion_laughs(single_line))
    assert time.perf_counter() - started < 1.0
    assert longest_field(result) < 1000
    assert result.entries[0].title == "Item one"


def test_quadratic_blowup_is_not_expanded() -> None:
    body = quadratic_blowup()
    started = time.perf_counter()
    result = parse(body)
    assert time.perf_counter() - started < 1.0
    assert longest_field(result) < len(body)  # feedparser alone: a 200 M-character title


def test_doctype_hidden_by_utf7_is_seen() -> None:
    """feedparser decodes by the declared charset: '+ADwAIQ-' is '<!' in UTF-7."""
    body = quadratic_blowup().replace(b'encoding="utf-8"', b'encoding="utf-7"')
    body = body.replace(b"<!DOCTYPE", b"+ADwAIQ-DOCTYPE").replace(b"<!ENTITY", b"+ADwAIQ-ENTITY")
    assert longest_field(parse(body)) < len(body)


@pytest.mark.parametrize("enc", ["utf-16", "utf-16-be", "utf-32"])
def test_wide_encodings_are_neutralised(enc: str) -> None:
    body = quadratic_blowup(enc=enc)
    assert b"<!" not in neutralise_doctype(body).replace(b"<?", b"")  # output is UTF-8
    result = parse(body)
    assert longest_field(result) < 100_000
    assert result.entries[0].title == "Item one"


def test_doctype_inside_prolog_comment_gives_feedparser_no_entities() -> None:
    """feedparser's ENTITY regex also matches inside comments before the first element."""
    hidden = f'<!--\n<!DOCTYPE rss [\n<!ENTITY a "{"A" * 50_000}">\n]>\n-->\n'
    body = (DECL.format(enc="utf-8") + hidden + RSS_TAIL.format(title="&a;" * 2000)).encode()
    result = parse(body)
    assert longest_field(result) < 200_000


def test_xxe_file_entity_is_not_resolved() -> None:
    doctype = '<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    body = (DECL.format(enc="utf-8") + doctype + RSS_TAIL.format(title="&xxe;")).encode()
    result = parse(body)
    assert "root:" not in str(result.feed) + str(result.entries)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://x/rss.dtd">',
        "<!doctype rss>",
        '<!DOCTYPE rss [ <!ENTITY a "x]>y"> <!-- ]> " --> <?pi ]> ?> <!ENTITY b \'q"\'> ]>',
        '<!DOCTYPE rss [\n<!ENTITY a "AAAA">',  # unterminated
        '<!DOCTYPE rss SYSTEM "a>b.dtd" >',
    ],
)
def test_doctype_variants_are_removed_without_touching_the_rest(doctype: str) -> None:
    rest = RSS_TAIL.format(title="Caf\u00e9 &amp; <![CDATA[<!ENTITY in text>]]>")
    body = (DECL.format(enc="utf-8") + "<!-- c -->\n" + doctype + "\n" + rest).encode()
    out = neutralise_doctype(body)
    assert b"DOCTYPE" not in out.upper()
    assert out.endswith(rest.encode())
    assert b"<!-- c -->" in out
    assert parse(body).entries[0].title == "Item one"


@pytest.mark.parametrize(
    "body",
    [
        (DECL.format(enc="utf-8") + RSS_TAIL.format(title="Caf\u00e9")).encode(),
        (DECL.format(enc="iso-8859-1") + RSS_TAIL.format(title="Caf\u00e9")).encode("latin-1"),
        (DECL.format(enc="utf-16") + RSS_TAIL.format(title="Caf\u00e9")).encode("utf-16"),
        b"\xef\xbb\xbf" + RSS_TAIL.format(title="bom").encode(),
        b"",
        b"not xml at all",
    ],
)
def test_documents_without_doctype_are_returned_unchanged(body: bytes) -> None:
    assert neutralise_doctype(body) is body


def test_corpus_feeds_parse_the_same_after_neutralising(corpus_feeds: Path) -> None:
    compared = 0
    for path in sorted(corpus_feeds.iterdir()):
        if path.suffix in (".md", ".json"):
            continue
        body = path.read_bytes()
        if path.suffix == ".gz":
            body = gzip.decompress(body)
        before = feedparser.parse(io.BytesIO(body))
        after = parse(body)
        assert [e.get("title") for e in after.entries] == [
            e.get("title") for e in before.entries
        ], path.name
        assert after.feed.get("title") == before.feed.get("title"), path.name
        compared += 1
    assert compared > 40


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "json"),
        (b'\xef\xbb\xbf  \n{"items": []}', "json"),
        ('{"items": []}'.encode("utf-16"), "json"),
        (b"[1, 2]", "json"),
        (b'<?xml version="1.0"?><rss/>', "xml"),
        (b"\n\n  <rss/>", "xml"),
        ("<feed/>".encode("utf-16-le"), "xml"),
        ("<feed/>".encode("utf-32"), "xml"),
        (b"", "unknown"),
        (b"/etc/passwd", "unknown"),
        (b"HTTP error", "unknown"),
    ],
)
def test_sniff_format(body: bytes, expected: str) -> None:
    assert sniff_format(body) == expected
