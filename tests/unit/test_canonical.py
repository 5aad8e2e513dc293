"""Canonical URL cases: every spelling of one link maps to one key."""

from __future__ import annotations

import pytest

from services.core.canonical import canonicalize_url, is_tracking_param

CASES = [
    ("https://www.bbc.co.uk/news/world-27307249?at_medium=RSS&at_campaign=KARANGA",
     "https://bbc.com/news/world-27307249"),
    ("http://WWW.BBC.com:80/news/world-27307249/#top", "https://bbc.com/news/world-27307249"),
    ("https://example.com:443/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com/a?utm_source=x&utm_medium=rss&fbclid=1&gclid=2&id=7",
     "https://example.com/a?id=7"),
    ("https://nytimes.com/x.html?smid=tw-share", "https://nytimes.com/x.html"),
    ("https://www.theguardian.com/world/x?CMP=share_btn_tw", "https://theguardian.com/world/x"),
    ("https://reuters.com/x?taid=abc&mc_cid=1&mc_eid=2", "https://reuters.com/x"),
    ("https://www.google.com/url?rct=j&url=https://www.example.com/story&ct=ga",
     "https://example.com/story"),
    ("https://www.google.com/amp/s/www.cnn.com/2021/x/index.amp.html",
     "https://cnn.com/2021/x/index.html"),
    ("https://www-cnn-com.cdn.ampproject.org/c/s/www.cnn.com/2021/x/index.html",
     "https://cnn.com/2021/x/index.html"),
    ("https://amp.theguardian.com/world/2021/x", "https://theguardian.com/world/2021/x"),
    ("https://example.com/story/amp/", "https://example.com/story"),
    ("https://example.com/amp/story", "https://example.com/story"),
    ("https://example.com/story?amp", "https://example.com/story"),
    ("https://example.com/story?outputType=amp&page=2", "https://example.com/story?page=2"),
    ("https://bücher.de/x", "https://xn--bcher-kva.de/x"),
    ("  mailto:someone@example.com ", "mailto:someone@example.com"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_canonicalize_url(raw: str, expected: str) -> None:
    assert canonicalize_url(raw) == expected


def test_canonicalize_is_idempotent() -> None:
    for raw, _ in CASES:
        once = canonicalize_url(raw)
        assert canonicalize_url(once) == once


@pytest.mark.parametrize(
    ("name", "tracking"),
    [("utm_source", True), ("AT_MEDIUM", True), ("CMP", True), ("fbclid", True),
     ("_ga", True), ("xtor", True), ("id", False), ("page", False), ("q", False),
     ("ref", False)],
)  # fmt: skip
def test_is_tracking_param(name: str, tracking: bool) -> None:
    assert is_tracking_param(name) is tracking
