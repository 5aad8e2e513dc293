"""Defuse feed documents before feedparser sees them: no DOCTYPE, no ENTITY declarations.

feedparser 6 expands "safe" internal entities without limit in its loose parser (a
62 KB quadratic-blowup feed became a 200 M-character title) and picks up ENTITY
declarations with a line-based regex over everything before the first element, even
inside comments. So every declaration in the prolog is removed, and any DOCTYPE/ENTITY
text left before the first element (inside comments, or in broken markup) is defanged.

Works on bytes in any encoding: the document is examined as feedparser will decode it
(UTF-8 through a lossless latin-1 view, so no text is altered). Documents with nothing to
remove are returned unchanged (the same bytes object). Callers must not hand feedparser a
different charset (e.g. HTTP response headers) than the one this module saw.
"""

from __future__ import annotations

import codecs
import re
from typing import Literal

from feedparser.encodings import convert_to_utf8

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "latin-1"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNIT = {"utf-32-le": 4, "utf-32-be": 4, "utf-16-le": 2, "utf-16-be": 2, "latin-1": 1}
_FIRST_ELEMENT = re.compile(r"<\w", re.ASCII)  # how feedparser splits off the "head" it searches
_DECLARATION_TEXT = re.compile(r"<(?=!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION))", re.I)
_ELEMENT_START = re.compile(r"<[A-Za-z_:]")


def neutralise_doctype(body: bytes) -> bytes:
    """Remove DOCTYPE (with its internal subset) and ENTITY declarations from a document.

    The document is inspected as feedparser will decode it (its own charset logic, so a
    declaration hidden by an encoding such as UTF-7 or UTF-16 is seen too); when something
    is removed the result is that UTF-8 text, otherwise `body` is returned unchanged.
    """
    try:
        view: bytes = convert_to_utf8({}, body, {})
    except Exception:  # feedparser internals changed: fall back to our own decoding
        return _neutralise_raw(body)
    text = view.decode("latin-1")
    cleaned = _neutralise_text(text)
    return body if cleaned == text else cleaned.encode("latin-1")


def _neutralise_raw(body: bytes) -> bytes:
    bom, codec = _detect(body)
    unit = _UNIT[codec]
    payload = body[len(bom) :]
    cut = len(payload) - len(payload) % unit
    text = payload[:cut].decode(codec, errors="surrogatepass")
    cleaned = _neutralise_text(text)
    if cleaned == text:
        return body
    return bom + cleaned.encode(codec, errors="surrogatepass") + payload[cut:]


def sniff_format(body: bytes) -> Literal["json", "xml", "unknown"]:
    """Guess the container from the first characters: JSON ({ or [), XML (<) or unknown."""
    bom, codec = _detect(body)
    head = body[len(bom) : len(bom) + 1024].decode(codec, errors="ignore")
    head = head.lstrip(" \t\r\n\ufeff\x00")
    if head.startswith(("{", "[")):
        return "json"
    if head.startswith("<"):
        return "xml"
    return "unknown"


def _detect(body: bytes) -> tuple[bytes, str]:
    """(BOM, codec) of the document; ASCII-compatible encodings map to latin-1 (lossless)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return bom, codec
    head = body[:4]
    if len(head) == 4 and head[1:] == b"\x00\x00\x00" and head[0]:
        return b"", "utf-32-le"
    if len(head) == 4 and head[:3] == b"\x00\x00\x00" and head[3]:
        return b"", "utf-32-be"
    if len(head) >= 2 and head[0] and not head[1]:
        return b"", "utf-16-le"
    if len(head) >= 2 and head[1] and not head[0]:
        return b"", "utf-16-be"
    return b"", "latin-1"


def _neutralise_text(text: str) -> str:
    spans, _ = _prolog_declarations(text)
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    first = _FIRST_ELEMENT.search(text)
    head_end = first.start() if first else len(text)
    head = _DECLARATION_TEXT.sub(" ", text[:head_end])
    return head + text[head_end:]


def _prolog_declarations(text: str) -> tuple[list[tuple[int, int]], int]:
    """Spans of every `<!...>` declaration before the root element, and where the root starts."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while (j := text.find("<", i)) >= 0:
        if text.startswith("<?", j):
            i = _after(text, "?>", j + 2)
        elif text.startswith("<!--", j):
            i = _after(text, "-->", j + 4)
        elif text.startswith("<!", j):
            end = _declaration_end(text, j)
            if end >= n:  # unterminated: drop it up to the first element start
                found = _ELEMENT_START.search(text, j + 2)
                end = found.start() if found else n
            spans.append((j, end))
            i = end
        else:
            return spans, j
    return spans, n


def _after(text: str, token: str, start: int) -> int:
    k = text.find(token, start)
    return len(text) if k < 0 else k + len(token)


def _declaration_end(text: str, j: int) -> int:
    """Index just past the `>` closing the declaration at `j` (quotes and subset skipped)."""
    i, n = j + 2, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            i = _after(text, c, i + 1)
        elif c == "[":
            i, closed = _subset_end(text, i + 1)
            if not closed:
                return i
        elif c == ">":
            return i + 1
        else:
            i += 1
    return n


def _subset_end(text: str, i: int) -> tuple[int, bool]:
    """(index past the `]` closing the internal subset at `i`, True), or where it breaks off."""
    n = len(text)
    while i < n:
        if text.startswith("<!--", i):
            i = _after(text, "-->", i + 4)
        elif text.startswith("<?", i):
            i = _after(text, "?>", i + 2)
        elif text[i] in "\"'":
            i = _after(text, text[i], i + 1)
        elif text[i] == "]":
            return i + 1, True
        elif _ELEMENT_START.match(text, i):  # an element: the subset was never closed
            return i, False
        else:
            i += 1
    return n, False
