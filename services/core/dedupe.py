"""Dedupe decisions: layered identity keys, update detection and near-duplicate stories.

Pure logic for the workers and ``newswire dedupe check``. Exact identity is layered:
feed-scoped GUID -> canonical URL -> normalised content hash. Near-duplicates are found
through MinHash LSH band keys and confirmed by :func:`decide` on two compact
:class:`Signature` s (the worker keeps one ~200-byte blob per article in Redis).
:func:`compare` is exactly ``decide(signature_of(a), signature_of(b))``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from services.core.canonical import canonicalize_url
from services.core.textnorm import content_words, normalise, strip_boilerplate, words

NUM_PERM = 64
BANDS, ROWS = 16, 4  # LSH: P(candidate) = 1-(1-J^4)^16: 0.12 at J=0.3, 0.64 at 0.5, 0.98 at 0.7
MINHASH_DUP = 0.5  # estimated text Jaccard that alone makes a duplicate
TITLE_WINDOW_H = 72.0  # equal titles further apart than this are not merged on title
_MIN_TITLE_WORDS = 4
_MAX_SET = 24
_SEED = 20210920
_BLOB_VERSION = 1
_HEADER = struct.Struct("<BBHIQQIBBBB")
TITLE_BANDS, TITLE_ROWS = 4, 2  # title-word LSH: P(candidate) 0.83 at title J=0.6, 0.5 at 0.4
# MinHash as in datasketch (affine permutations mod the Mersenne prime 2^61-1), written out
# with numpy because importing datasketch imports redis, which the pure core must not.
_PRIME = np.uint64((1 << 61) - 1)
_RNG = np.random.default_rng(_SEED)
_A = _RNG.integers(1, 1 << 31, NUM_PERM, dtype=np.uint64)
_B = _RNG.integers(0, 1 << 31, NUM_PERM, dtype=np.uint64)

Method = Literal[
    "url", "content_hash", "minhash", "title", "title+text", "series_guard", "different"
]

_OUTLET_SUFFIX = re.compile(
    r"\s+[-|\u2013\u2014:]\s+(?:bbc(?: news| sport)?|cnn(?: politics| business| travel)?"
    r"|the guardian|guardian|reuters|ap news|al jazeera|fox news|the hill|daily mail online"
    r"|the new york times|nytimes\.com|the washington post|sky news|nbc news|abc news"
    r"|[\w.]+\.(?:com|co\.uk|org|net))\s*$",
    re.IGNORECASE,
)
_MEDIA_PREFIX = re.compile(r"^(?:watch|video|audio|listen|live)\s*:\s*", re.IGNORECASE)
_SERIES = re.compile(
    r"week in pictures|in pictures|pictures of the (?:day|week)|news (?:daily|briefing)"
    r"|your (?:guide|morning|evening)|what we know|\bday \w+\b|live updates?|\blive\b"
    r"|\bbriefing\b|quiz|\brelive\b|\bbest\b.*\bdeals\b|\bv\b|\bvs\.?\b|\d+\s*-\s*\d+\b"
    r"|five things|the week",
    re.IGNORECASE,
)
_NUMBER_WORDS = frozenset(
    [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "hundred",
        "thousand",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
_CAPITAL = re.compile(r"\b[A-Z][\w'\u2019-]+")


class DedupeItem(BaseModel):
    """One side of a pair for :func:`compare` (same fields as ``newswire dedupe check``)."""

    model_config = ConfigDict(frozen=True)

    title: str
    text: str = ""
    link: str | None = None
    published_at: datetime | None = None


class DedupeDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    duplicate: bool
    score: float
    method: Method


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    """Exact identity keys, most specific first; ``primary`` is ``keys[0]``."""

    keys: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.keys[0]


@dataclass(frozen=True, slots=True)
class Signature:
    """Compact near-duplicate fingerprint; ``to_bytes()`` is what the worker stores."""

    mins: tuple[int, ...]  # NUM_PERM MinHash values truncated to 16 bits
    n_shingles: int
    title_key: int  # 32-bit hash of the cleaned title; 0 when series-like or too short
    title_bands: tuple[int, ...]  # TITLE_BANDS 32-bit band hashes of title words, () if series
    title_words: frozenset[int]
    title_numbers: frozenset[int]
    entities: frozenset[int]
    url: int  # 64-bit hash of the canonical URL, 0 if unknown
    content: int  # first 64 bits of content_hash
    published: int  # minutes since the epoch, 0 if unknown
    series: bool

    def to_bytes(self) -> bytes:
        sets = (sorted(self.title_words), sorted(self.title_numbers), sorted(self.entities))
        head = _HEADER.pack(
            _BLOB_VERSION, int(self.series), min(self.n_shingles, 0xFFFF), self.title_key,
            self.url, self.content, self.published, len(self.title_bands),
            *(len(s) for s in sets),
        )  # fmt: skip
        body = [*self.mins, *sets[0], *sets[1], *sets[2]]
        bands = struct.pack(f"<{len(self.title_bands)}I", *self.title_bands)
        return head + bands + struct.pack(f"<{len(body)}H", *body)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Signature:
        if len(blob) < _HEADER.size or blob[0] != _BLOB_VERSION:
            raise ValueError("not a dedupe signature blob (wrong version or truncated)")
        _, series, n_sh, title_key, url, content, pub, n_tb, n_tw, n_tn, n_en = _HEADER.unpack_from(
            blob
        )
        tbands = struct.unpack_from(f"<{n_tb}I", blob, _HEADER.size)
        offset = _HEADER.size + 4 * n_tb
        values = struct.unpack_from(f"<{NUM_PERM + n_tw + n_tn + n_en}H", blob, offset)
        a, b = NUM_PERM + n_tw, NUM_PERM + n_tw + n_tn
        return cls(
            tuple(values[:NUM_PERM]), n_sh, title_key, tbands, frozenset(values[NUM_PERM:a]),
            frozenset(values[a:b]), frozenset(values[b:]), url, content, pub, bool(series),
        )  # fmt: skip


def _h(text: str, bits: int) -> int:
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


def _clean_text(title: str, text: str) -> str:
    """Body text with boilerplate dropped; a text that only repeats the title counts as empty."""
    body = normalise(strip_boilerplate(text))
    if len(body) > 2 * len(title) + 40:  # far longer than the title: cannot just repeat it
        return body
    return "" if clean_title(body) == clean_title(title) else body


def content_hash(title: str, text: str) -> str:
    """32-hex hash of cleaned title + text; whitespace, case, quotes and suffixes ignored."""
    key = " ".join(words(clean_title(title))) + "\n" + " ".join(words(_clean_text(title, text)))
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
        keys.append(f"guid:{feed_id}:{_h(guid.strip(), 64):016x}")
    if canonical_url and canonical_url not in shared_links and not is_site_root(canonical_url):
        keys.append(f"url:{_h(canonical_url, 64):016x}")
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


def _shingles(title: str, body: str) -> set[bytes]:
    """Word 2-shingles of cleaned title + body plus its content words (short texts)."""
    toks = [*words(title), "|", *words(body)]
    grams = {f"{a} {b}" for a, b in itertools.pairwise(toks) if "|" not in (a, b)}
    grams |= set(content_words(title + " " + body))
    return {g.encode("utf-8") for g in grams}


def _entities(title: str, text: str) -> set[str]:
    """Capitalised words and numbers of the text (and of the title if sentence-cased)."""
    title_words = title.split()
    caps = sum(1 for w in title_words if w[:1].isupper())
    sources = [text] if title_words and caps / len(title_words) > 0.6 else [text, title]
    found: set[str] = set()
    for source in sources:
        found |= {
            w.lower().replace("\u2019", "'").removesuffix("'s") for w in _CAPITAL.findall(source)
        }
        found |= set(re.findall(r"\b\d[\d,.]*\b", source))
    return {w for w in found if w not in _STOP_ENTITIES and len(w) > 1}


_STOP_ENTITIES = frozenset(words(" ".join(sorted(_NUMBER_WORDS)))) | frozenset(
    [
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "as",
        "he",
        "she",
        "it",
        "they",
        "we",
        "i",
        "but",
        "and",
        "this",
        "that",
        "there",
        "these",
        "his",
        "her",
        "its",
        "our",
        "what",
        "how",
        "why",
        "when",
        "who",
        "after",
        "more",
        "new",
    ]
)


def _title_numbers(title: str) -> set[str]:
    return {w for w in words(title) if w[:1].isdigit() or w in _NUMBER_WORDS}


def _small(values: Iterable[str], cap: int = _MAX_SET) -> frozenset[int]:
    return frozenset(sorted({_h(v, 16) for v in values})[:cap])


def _minutes(at: datetime | None) -> int:
    if at is None:
        return 0
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return max(int(at.timestamp() // 60), 0)


def signature(
    title: str,
    text: str,
    *,
    canonical_url: str | None = None,
    published_at: datetime | None = None,
    content_hash_hex: str | None = None,
) -> Signature:
    """Fingerprint of one article; the keyword fields let :func:`decide` apply layers 1-2.

    ``content_hash_hex`` is :func:`content_hash` of the same title and text when the caller
    already has it (the workers do: it is ``Article.content_hash``).
    """
    ctitle = clean_title(title)
    body = _clean_text(title, text)
    shingles = _shingles(ctitle, body)
    series = _SERIES.search(ctitle) is not None
    tw = content_words(ctitle)
    specific = not series and len(tw) >= _MIN_TITLE_WORDS
    return Signature(
        mins=tuple(int(v) for v in _minhash(shingles, NUM_PERM) & 0xFFFF)
        if shingles
        else (0,) * NUM_PERM,
        n_shingles=len(shingles),
        title_key=_h(ctitle, 32) if specific else 0,
        title_bands=_title_bands(tw) if specific else (),
        title_words=_small(tw, 16),
        title_numbers=_small(_title_numbers(ctitle), 8),
        entities=_small(_entities(title, text)),
        url=_h(canonical_url, 64) if canonical_url else 0,
        content=int((content_hash_hex or content_hash(title, text))[:16], 16),
        published=_minutes(published_at),
        series=series,
    )


def _minhash(shingles: set[bytes], num_perm: int) -> npt.NDArray[np.uint64]:
    """The ``num_perm`` minimum 32-bit permuted hashes of the shingles (uint64 array)."""
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(x, digest_size=4).digest(), "little") for x in shingles),
        dtype=np.uint64,
        count=len(shingles),
    )
    permuted = (hashes[:, None] * _A[:num_perm] + _B[:num_perm]) % _PRIME & np.uint64(0xFFFFFFFF)
    return np.asarray(permuted.min(axis=0), dtype=np.uint64)


def _title_bands(title_words: list[str]) -> tuple[int, ...]:
    if not title_words:
        return ()
    values = _minhash({w.encode("utf-8") for w in title_words}, TITLE_BANDS * TITLE_ROWS)
    rows = values.reshape(TITLE_BANDS, TITLE_ROWS)
    return tuple(_h(f"{int(r[0])}.{int(r[1])}", 32) for r in rows)


def signature_of(item: DedupeItem) -> Signature:
    url = canonicalize_url(item.link) if item.link else None
    return signature(item.title, item.text, canonical_url=url, published_at=item.published_at)


def lsh_band_keys(sig: Signature) -> tuple[str, ...]:
    """Short LSH keys: 16 text bands (``<band hex><8 hex>``), the title key ``t<8 hex>``
    and 4 title-word bands ``w<band><8 hex>`` (9-10 characters each, <= 21 keys)."""
    keys: list[str] = []
    if sig.n_shingles:
        rows = np.asarray(sig.mins, dtype=np.uint64).reshape(BANDS, ROWS)
        packed = (rows[:, 0] << 48) | (rows[:, 1] << 32) | (rows[:, 2] << 16) | rows[:, 3]
        keys = [f"{i:x}{_h(str(int(v)), 32):08x}" for i, v in enumerate(packed)]
    if sig.title_key:
        keys.append(f"t{sig.title_key:08x}")
    keys += [f"w{i}{v:08x}" for i, v in enumerate(sig.title_bands)]
    return tuple(keys)


def minhash_jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard of the two shingle sets (0 when either text is empty)."""
    if not a.n_shingles or not b.n_shingles:
        return 0.0
    same = sum(1 for x, y in zip(a.mins, b.mins, strict=True) if x == y)
    return max(0.0, (same / NUM_PERM - 2**-16) / (1 - 2**-16))


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _overlap(a: frozenset[int], b: frozenset[int]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _hours_apart(a: Signature, b: Signature) -> float | None:
    return abs(a.published - b.published) / 60 if a.published and b.published else None


def _names_conflict(a: Signature, b: Signature) -> bool:
    """Each title names something (a title word that is a name in its text) the other's text
    never mentions: templated items about different companies or people. Entity sets cut at
    ``_MAX_SET`` are incomplete, so they prove nothing missing."""
    if len(a.entities) >= _MAX_SET or len(b.entities) >= _MAX_SET:
        return False
    only_a = (a.title_words & a.entities) - b.entities
    only_b = (b.title_words & b.entities) - a.entities
    return bool(only_a and only_b) and _jaccard(a.title_words, b.title_words) <= 0.5


def decide(a: Signature, b: Signature) -> DedupeDecision:  # noqa: PLR0911
    """The worker's decision for a candidate pair (see module docstring for the layers)."""
    if a.url and a.url == b.url:
        return DedupeDecision(duplicate=True, score=1.0, method="url")
    if a.content == b.content:
        return DedupeDecision(duplicate=True, score=1.0, method="content_hash")
    j = minhash_jaccard(a, b)
    tsim = _jaccard(a.title_words, b.title_words)
    if a.title_numbers and b.title_numbers and a.title_numbers != b.title_numbers:
        return DedupeDecision(duplicate=False, score=round(j, 3), method="series_guard")
    if j < 0.95 and _names_conflict(a, b):  # templated texts about different companies/people
        return DedupeDecision(duplicate=False, score=round(j, 3), method="different")
    hours = _hours_apart(a, b)
    near = hours is None or hours <= TITLE_WINDOW_H
    series = a.series or b.series
    if (j >= 0.8 or (j >= MINHASH_DUP and (hours is None or hours <= 24))) and (
        not series or tsim >= 0.5
    ):
        return DedupeDecision(duplicate=True, score=round(j, 3), method="minhash")
    ents = _overlap(a.entities, b.entities)
    if a.title_key and a.title_key == b.title_key and near:
        one_empty = min(a.n_shingles, b.n_shingles) <= len(a.title_words) + 2
        if one_empty or ents >= 0.3 or j >= 0.15:
            return DedupeDecision(duplicate=True, score=round(max(j, tsim), 3), method="title")
    # Similar (not equal) titles: later developments ("missing" -> "found safe") share most
    # title words and entities, so beyond 2 h apart the titles must agree more closely.
    close_in_time = hours is None or hours <= 2 or tsim >= 0.75
    if near and not series and close_in_time and tsim >= 0.6 and j >= 0.25 and ents >= 0.4:
        score = round((j + tsim + ents) / 3, 3)
        return DedupeDecision(duplicate=True, score=score, method="title+text")
    return DedupeDecision(duplicate=False, score=round(max(j, tsim * j), 3), method="different")


def compare(a: DedupeItem, b: DedupeItem) -> DedupeDecision:
    """Exactly the workers' decision for a pair: ``decide`` on the two signatures."""
    return decide(signature_of(a), signature_of(b))
