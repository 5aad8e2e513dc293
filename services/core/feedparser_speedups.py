"""Speed-ups of feedparser's internals that leave its results unchanged.

Each is pure (same inputs, same outputs) and checked against stock feedparser on the whole
corpus (tests/unit/test_feedparser_speedups.py). `install()` applies them; `stock()` undoes
them for a block (the benchmark's bare-feedparser baseline, the equivalence tests).

- xml:base resolution memoised: feedparser re-resolves it on every start tag, a urljoin of
  the same two strings (~15 % of its time on real feeds).
- The strict parser reads through expat with `buffer_text` on: a text node reaches
  feedparser in one `characters()` call instead of one per line and per entity reference.
  SAX lets a parser split text anywhere and feedparser joins an element's pieces first.
- FeedParserDict lookups of ordinary keys go straight to the dict: its `get` and
  `__getitem__` first test five special names and an alias table (~10 % of a parse), and
  `copy.deepcopy` of one (each element's content parameters) goes through pickling's
  reduce protocol (~7 %). Aliased and special keys keep feedparser's own code.
"""

from __future__ import annotations

import contextlib
import copy
import xml.sax.expatreader
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, cast

import feedparser.api
import feedparser.mixin
import feedparser.util

_MIXIN: Any = feedparser.mixin
_FPD: Any = feedparser.util.FeedParserDict
_BASE_FUNCTIONS = ("make_safe_absolute_uri", "_urljoin")
_STOCK_BASE = {name: getattr(_MIXIN, name) for name in _BASE_FUNCTIONS}
_STOCK_FPD = {name: _FPD.__dict__.get(name) for name in ("get", "__getitem__", "__deepcopy__")}
# names FeedParserDict treats specially or translates (feedparser.util.FeedParserDict)
_SPECIAL_KEYS = frozenset({"category", "enclosures", "license", "updated", "updated_parsed"})
_SLOW_KEYS = _SPECIAL_KEYS | frozenset(_FPD.keymap)
_stock_get = _STOCK_FPD["get"]
_stock_getitem = _STOCK_FPD["__getitem__"]


class _BufferedExpatReader(xml.sax.expatreader.ExpatParser):
    """The stdlib SAX expat reader with expat's `buffer_text` on."""

    def reset(self) -> None:
        super().reset()
        parser = cast(Any, self)._parser  # typeshed does not declare it
        parser.buffer_size = 1 << 16
        parser.buffer_text = True


def create_parser() -> xml.sax.expatreader.ExpatParser:
    """SAX driver entry point (`xml.sax.make_parser` imports this module by name)."""
    return _BufferedExpatReader()


def _fast_get(self: dict[str, Any], key: Any, default: Any = None) -> Any:
    if key in _SLOW_KEYS:
        return _stock_get(self, key, default)
    return dict.get(self, key, default)


def _fast_getitem(self: dict[str, Any], key: Any) -> Any:
    if key in _SLOW_KEYS:
        return _stock_getitem(self, key)
    return dict.__getitem__(self, key)


def _deepcopy(self: dict[str, Any], memo: dict[int, Any]) -> Any:
    """What copy.deepcopy gives (stored keys are never aliases), without pickling's reduce."""
    clone = _FPD()
    memo[id(self)] = clone
    for key, value in dict.items(self):
        dict.__setitem__(clone, key, copy.deepcopy(value, memo))
    return clone


def install() -> None:
    """Apply every speed-up (idempotent)."""
    for name in _BASE_FUNCTIONS:
        setattr(_MIXIN, name, lru_cache(maxsize=1024)(_STOCK_BASE[name]))
    preferred: list[str] = feedparser.api.PREFERRED_XML_PARSERS
    if __name__ not in preferred:
        preferred.insert(0, __name__)
    _FPD.get, _FPD.__getitem__, _FPD.__deepcopy__ = _fast_get, _fast_getitem, _deepcopy


@contextlib.contextmanager
def stock() -> Iterator[None]:
    """feedparser exactly as shipped inside the block; the speed-ups again afterwards."""
    preferred: list[str] = feedparser.api.PREFERRED_XML_PARSERS
    saved = list(preferred)
    for name, fn in _STOCK_BASE.items():
        setattr(_MIXIN, name, fn)
    preferred[:] = [p for p in saved if p != __name__]
    for name, fn in _STOCK_FPD.items():
        if fn is None:
            delattr(_FPD, name)
        else:
            setattr(_FPD, name, fn)
    try:
        yield
    finally:
        preferred[:] = saved
        install()
