"""The served documents: ../shared/corpus/feeds scaled up by deterministic variants.

A variant keeps a document byte-for-byte except its item identities: every guid / id /
link text, Atom `link href` and `rdf:about` gets a variant marker (`/vN` after the host of
an absolute URL, `/vN` before a root-relative path, `-vN` after anything else). JSON Feeds
get the same treatment on `id`, `url` and `external_url`. A `.gz` body is rewritten inside.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "feeds"

_ELEMENT = re.compile(rb"(<((?:[\w.-]+:)?(?:guid|id|link))(?:\s[^>]*)?>)(.*?)(</\2>)", re.DOTALL)
_HREF = re.compile(rb"(<(?:[\w.-]+:)?link\b[^>]*?\bhref\s*=\s*)([\"'])(.*?)\2", re.DOTALL)
_ABOUT = re.compile(rb"(\brdf:about\s*=\s*)([\"'])(.*?)\2", re.DOTALL)
_JSON = re.compile(rb'("(?:id|url|external_url)"\s*:\s*")((?:[^"\\]|\\.)*)(")')
_ABSOLUTE = re.compile(
    rb"^(\s*(?:<!\[CDATA\[)?\s*https?:(?://|\\/\\/)[^/\\\s<\]?#]+)(.*)$", re.DOTALL
)
_TAIL = re.compile(rb"^(.*?)(\s*(?:\]\]>)?\s*)$", re.DOTALL)


@dataclass(frozen=True)
class Document:
    name: str
    body: bytes  # as served (gzip-encoded for .gz)

    @property
    def gzipped(self) -> bool:
        return self.name.endswith(".gz")

    def decoded(self) -> bytes:
        """The body an HTTP client hands to the parser (Content-Encoding removed)."""
        return gzip.decompress(self.body) if self.gzipped else self.body


def load_corpus(directory: Path = CORPUS) -> list[Document]:
    """Every feed document of the shared corpus, sorted by name."""
    if not directory.is_dir():
        raise FileNotFoundError(
            f"{directory} is missing: the benchmark needs ../shared/corpus/feeds"
        )
    paths = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix != ".md")
    return [Document(p.name, p.read_bytes()) for p in paths]


def mark_value(value: bytes, marker: int) -> bytes:
    """Give one identity value (URL, relative path or opaque id) a variant marker."""
    found = _ABSOLUTE.match(value)
    if found:
        return found.group(1) + b"/v%d" % marker + found.group(2)
    head, tail = _TAIL.match(value).groups()  # type: ignore[union-attr]
    stripped = head.lstrip()
    if not stripped or stripped == b"<![CDATA[":
        return value
    if stripped.startswith((b"/", b"<![CDATA[/")):
        at = head.index(b"/")
        return head[:at] + b"/v%d" % marker + head[at:] + tail
    return head + b"-v%d" % marker + tail


def _sub(pattern: re.Pattern[bytes], group: int, marker: int) -> Callable[[re.Match[bytes]], bytes]:
    def replace(m: re.Match[bytes]) -> bytes:
        parts = [m.group(i) or b"" for i in range(1, (pattern.groups or 0) + 1)]
        if pattern is _ELEMENT:
            return m.group(1) + mark_value(m.group(3), marker) + m.group(4)
        parts[group - 1] = mark_value(parts[group - 1], marker)
        if pattern in (_HREF, _ABOUT):
            return parts[0] + parts[1] + parts[2] + parts[1]
        return b"".join(parts)

    return replace


def variant(doc: Document, marker: int) -> Document:
    """`doc` with every item identity marked with `marker` (deterministic)."""
    body = doc.decoded()
    if doc.name.endswith(".json"):
        body = _JSON.sub(_sub(_JSON, 2, marker), body)
    else:
        for pattern, group in ((_ELEMENT, 3), (_HREF, 3), (_ABOUT, 3)):
            body = pattern.sub(_sub(pattern, group, marker), body)
    if doc.gzipped:
        body = gzip.compress(body, mtime=0)
    return Document(doc.name, body)


def small(corpus: list[Document], max_bytes: int = 80_000) -> list[Document]:
    """Ordinary-sized XML feeds (no podcasts, no JSON): the steady-rate latency phase uses them."""
    return [
        d
        for d in corpus
        if len(d.decoded()) <= max_bytes and d.name.endswith((".xml", ".rdf", ".atom"))
    ]


def scaled(
    corpus: list[Document], feeds: int, prefix: str, first_marker: int
) -> dict[str, Document]:
    """`feeds` documents at distinct paths `/{prefix}{marker}/{name}`, cycling through `corpus`."""
    out: dict[str, Document] = {}
    for k in range(feeds):
        doc = corpus[k % len(corpus)]
        marker = first_marker + k // len(corpus)
        out[f"/{prefix}{marker}/{doc.name}"] = variant(doc, marker)
    return out
