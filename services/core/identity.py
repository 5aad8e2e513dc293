"""Exact identity of articles: cleaned titles, content hashes, layered keys and link facts.

Layers, most specific first: feed-scoped GUID -> canonical URL -> normalised content hash.
Links that a feed shares between items, and GUIDs it reuses, are not trusted as identity.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from services.core.canonical import canonicalize_url
from services.core.textnorm import normalise, strip_boilerplate, words

_OUTLET_SUFFIX = re.compile(
    r"\s+[-|\u2013\u2014:]\s+(?:bbc(?: news| sport)?|cnn(?: politics| business| travel)?"
    r"|the guardian|guardian|reuters|ap news|al jazeera|fox news|the hill|daily mail online"
    r"|the new york times|nytimes\.com|the washington post|sky news|nbc news|abc news"
    r"|[\w.]+\.(?:com|co\.uk|org|net))\s*$",
    re.IGNORECASE,
)
_MEDIA_PREFIX = re.compile(r"^(?:watch|video|audio|listen|live)\s*:\s*", re.IGNORECASE)
PAGE_ARTICLE, PAGE_VIDEO, PAGE_COLLECTION = 0, 1, 2
_VIDEO_PATH = re.compile(r"/(?:av|videos?|watch|audio|podcasts?|clips?)(?:/|$)", re.IGNORECASE)
_COLLECTION_PATH = re.compile(
    r"/(?:collections?|live|gallery|galleries|in-pictures|pictures|photos?|interactive)(?:/|$)",
    re.IGNORECASE,
)
_SECOND_LEVEL = frozenset(["co", "com", "org", "net", "ac", "gov", "ne", "or", "go", "edu"])


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    """Exact identity keys, most specific first; ``primary`` is ``keys[0]``."""

    keys: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.keys[0]


def outlet_of(url: str | None) -> str:
    """Registrable domain of a link (``www.bbc.co.uk/news/x`` -> ``bbc.co.uk``); "" if none."""
    match = re.match(r"(?:[a-z][\w+.-]*:)?//([^/?#:@]+)", (url or "").strip().lower())
    if match is None:
        return ""
    labels = [x for x in match.group(1).split(".") if x]
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def page_kind(url: str | None) -> int:
    """PAGE_VIDEO (/av/, /video/ ...), PAGE_COLLECTION (/collections/, /live/ ...) or
    PAGE_ARTICLE, from the path of a link: companion pages repeat an article's story."""
    path = re.sub(r"^(?:[a-z][\w+.-]*:)?//[^/?#]*", "", (url or "").strip()).split("?")[0]
    if _VIDEO_PATH.search(path):
        return PAGE_VIDEO
    return PAGE_COLLECTION if _COLLECTION_PATH.search(path) else PAGE_ARTICLE


@lru_cache(maxsize=1 << 16)  # words, stems and names repeat across articles
def hash_bits(text: str, bits: int) -> int:
    """The low ``bits`` bits of a 64-bit blake2b hash of ``text``."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << bits) - 1)


def clean_title(title: str) -> str:
    """Title without outlet suffixes (" - BBC News", " | CNN") or media labels, normalised."""
    title = normalise(title)
    previous = None
    while previous != title:
        previous = title
        title = _OUTLET_SUFFIX.sub("", title).strip()
        title = _MEDIA_PREFIX.sub("", title).strip()
    return title


def clean_text(title: str, text: str) -> str:
    """Body text with boilerplate dropped; a text that only repeats the title counts as empty."""
    body = normalise(strip_boilerplate(text))
    if len(body) > 2 * len(title) + 40:  # far longer than the title: cannot just repeat it
        return body
    return "" if clean_title(body) == clean_title(title) else body


def content_hash(title: str, text: str) -> str:
    """32-hex hash of cleaned title + text; whitespace, case, quotes and suffixes ignored."""
    key = " ".join(words(clean_title(title))) + "\n" + " ".join(words(clean_text(title, text)))
    return hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:32]


def is_material_change(old_title: str, old_text: str, new_title: str, new_text: str) -> bool:
    """True when an update changed words of the title or text, not just their spelling."""
    return content_hash(old_title, old_text) != content_hash(new_title, new_text)


def is_site_root(canonical_url: str) -> bool:
    """A bare host (home page) link: never an article identity."""
    return re.fullmatch(r"https://[^/?#]+/?", canonical_url) is not None


def identity_keys(
    guid: str | None,
    canonical_url: str,
    content_hash: str,
    *,
    feed_id: str,
    shared_links: frozenset[str] = frozenset(),
) -> IdentityKeys:
    """Layered exact keys: feed-scoped GUID, canonical URL (unless shared), content hash."""
    keys: list[str] = []
    if guid and guid.strip():
        keys.append(f"guid:{feed_id}:{hash_bits(guid.strip(), 64):016x}")
    if canonical_url and canonical_url not in shared_links and not is_site_root(canonical_url):
        keys.append(f"url:{hash_bits(canonical_url, 64):016x}")
    keys.append(f"hash:{content_hash}")
    return IdentityKeys(tuple(keys))


def untrustworthy_guids(guids: Sequence[str | None], links: Sequence[str | None]) -> frozenset[str]:
    """GUIDs one fetch uses for items with different links (or with no links at all)."""
    seen: dict[str, set[str | None]] = {}
    counts = Counter(g for g in guids if g)
    for guid, link in zip(guids, links, strict=False):
        if guid:
            seen.setdefault(guid, set()).add(canonicalize_url(link) if link else None)
    return frozenset(g for g, ls in seen.items() if counts[g] > 1 and (len(ls) > 1 or ls == {None}))


def shared_links(
    links: Sequence[str | None], titles: Sequence[str | None] | None = None
) -> frozenset[str]:
    """Canonical links that several items of one feed share (home or section pages).

    A link is shared when 3+ items carry it, or 2+ items with different titles do
    (when ``titles`` are given). Two items repeating one link and title are copies.
    """
    canon = [canonicalize_url(link) if link else None for link in links]
    counts = Counter(c for c in canon if c)
    shared = {c for c, n in counts.items() if n >= 3}
    if titles is not None:
        by_link: dict[str, set[str]] = {}
        for c, t in zip(canon, titles, strict=False):
            if c and t:
                by_link.setdefault(c, set()).add(clean_title(t))
        shared |= {c for c, ts in by_link.items() if len(ts) > 1}
    return frozenset(shared)
