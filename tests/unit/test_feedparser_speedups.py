"""feedparser with newswire's speed-ups gives what stock feedparser gives, on every corpus feed."""

from __future__ import annotations

import copy
import io
import warnings
from typing import Any

import feedparser
import pytest

from services.core import feedparser_speedups
from services.core.parse import parse_feed
from services.core.xmlguard import neutralise_doctype
from tests.unit.test_parse_corpus import DOCS, body_of


def raw_parse(body: bytes) -> tuple[Any, Any]:
    result = feedparser.parse(
        io.BytesIO(neutralise_doctype(body)), sanitize_html=False, resolve_relative_uris=False
    )
    return result.feed, result.entries


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_corpus_feed_parses_the_same_as_with_stock_feedparser(path: Any) -> None:
    body = body_of(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fast_raw = raw_parse(body)
        with feedparser_speedups.stock():
            stock_raw = raw_parse(body)
            stock_parsed = _parsed(body)
    assert fast_raw == stock_raw
    assert _parsed(body) == stock_parsed


def _parsed(body: bytes) -> Any:
    try:
        return parse_feed(body)
    except Exception as exc:  # a non-feed: the same refusal either way
        return type(exc), str(exc)


def test_special_and_aliased_keys_keep_feedparser_semantics() -> None:
    entry = feedparser.util.FeedParserDict(
        published="Mon", published_parsed=(1,), tags=[{"term": "t"}], summary="s",
        links=[{"rel": "enclosure", "href": "h"}, {"rel": "license", "href": "l"}],
    )  # fmt: skip
    keys = ["updated", "updated_parsed", "category", "enclosures", "license", "description",
            "summary", "missing", "guid", "items"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fast = [(entry.get(k, "-"), _item(entry, k)) for k in keys]
        fast_copy = copy.deepcopy(entry)
        with feedparser_speedups.stock():
            stock = [(entry.get(k, "-"), _item(entry, k)) for k in keys]
            stock_copy = copy.deepcopy(entry)
    assert fast == stock
    assert fast_copy == stock_copy and type(fast_copy) is type(stock_copy)
    assert fast_copy["links"] is not entry["links"]


def _item(entry: Any, key: str) -> Any:
    try:
        return entry[key]
    except KeyError:
        return KeyError
