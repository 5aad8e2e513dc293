"""Text normalisation shared by dedupe: cosmetic differences must not change a hash."""

from __future__ import annotations

import re
import unicodedata

# Curly quotes and dashes, replaced one by one: str.replace finds an absent character far
# faster than str.translate maps every character of a non-ASCII text through a dict.
_PUNCT = (
    ("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2013", "-"),
    ("\u2014", "-"),
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_BOILERPLATE = re.compile(
    r"(?:follow us on|sign up for|read more:?|click here|copyright|all rights reserved"
    r"|continue reading|the post .{0,200} appeared first on)[^.\n]*[.\n]?",
    re.IGNORECASE,
)
_BOILERPLATE_LEADS = ("follow us on", "sign up for", "read more", "click here", "copyright",
                      "all rights reserved", "continue reading", "the post ")  # fmt: skip
# The non-ASCII characters that `re.IGNORECASE` matches to a letter of those phrases.
_ODD_CASES = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "more",
        "my",
        "new",
        "no",
        "not",
        "now",
        "of",
        "on",
        "or",
        "our",
        "out",
        "over",
        "says",
        "said",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "there",
        "these",
        "they",
        "this",
        "to",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "after",
        "about",
        "after",
        "all",
        "also",
        "amid",
        "before",
        "just",
        "latest",
        "live",
        "news",
        "video",
        "watch",
    ]
)


def normalise(text: str) -> str:
    """NFKC, unify quotes/dashes, lower-case, collapse whitespace."""
    if not text.isascii():  # ASCII text is NFKC already and has no curly quotes or dashes
        text = unicodedata.normalize("NFKC", text)
        for curly, plain in _PUNCT:
            text = text.replace(curly, plain)
    return " ".join(text.split()).lower()  # split() and `\s` agree on every code point


def strip_boilerplate(text: str) -> str:
    """Drop feed boilerplate sentences (follow us, read more, copyright, ...)."""
    if not _may_hold_boilerplate(text):  # most texts: skip the slow case-insensitive scan
        return text
    return _BOILERPLATE.sub(" ", text)


def _may_hold_boilerplate(text: str) -> bool:
    """False only when `_BOILERPLATE` cannot match: no phrase it starts with is in `text`,
    compared as its IGNORECASE does (ASCII case, plus the four letters in `_ODD_CASES`)."""
    if not text.isascii():
        for odd, letter in _ODD_CASES:
            if odd in text:
                text = text.replace(odd, letter)
    lowered = text.lower()
    return any(lead in lowered for lead in _BOILERPLATE_LEADS)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of normalised text (apostrophes kept inside words)."""
    return _WORD.findall(normalise(text))


def content_words(text: str) -> list[str]:
    """Word tokens minus stopwords and possessive endings."""
    return content_tokens(words(text))


def content_tokens(tokens: list[str]) -> list[str]:
    """:func:`content_words` of already tokenised text."""
    stripped = (w.removesuffix("'s") for w in tokens)
    return [w for w in stripped if w not in STOPWORDS]
