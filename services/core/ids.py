"""Deterministic short ids (feeds, articles, stories) from stable strings."""

from __future__ import annotations

import hashlib
from functools import lru_cache


def short_hash(text: str, length: int = 16) -> str:
    """Hex digest prefix of sha1(text): stable across processes and releases."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:length]


@lru_cache(maxsize=65536)
def feed_id(url: str) -> str:
    """A feed's id from its URL (memoised: the poller asks several times per poll)."""
    return "f_" + short_hash(url.strip(), 12)


def article_id(identity: str) -> str:
    return "a_" + short_hash(identity, 20)
