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
_BLOB_VERSION = 2  # v2 adds the outlet hash, the page kind (flags bits 2-3) and rare stems
_HEADER_V1 = struct.Struct("<BBHIQQIBBBB")
_HEADER = struct.Struct("<BBHIQQIBBBBHBB")
_MAX_STEMS = 24
TITLE_BANDS, TITLE_ROWS = 4, 2  # title-word LSH: P(candidate) 0.83 at title J=0.6, 0.5 at 0.4
# MinHash as in datasketch (affine permutations mod the Mersenne prime 2^61-1), written out
# with numpy because importing datasketch imports redis, which the pure core must not.
_PRIME = np.uint64((1 << 61) - 1)
_RNG = np.random.default_rng(_SEED)
_A = _RNG.integers(1, 1 << 31, NUM_PERM, dtype=np.uint64)
_B = _RNG.integers(0, 1 << 31, NUM_PERM, dtype=np.uint64)

Method = Literal[
    "url",
    "content_hash",
    "minhash",
    "title",
    "title+text",
    "companion",
    "event",
    "stems",
    "series_guard",
    "different",
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
_EXPLAINER = re.compile(
    r"^(?:why|who|how|what|analysis|opinion|explained|explainer|watch the moment)\b"
)
EVENT_WINDOW_H = 24.0  # cross-outlet reports of one event: published within this many hours
STEMS_WINDOW_H = 36.0  # different outlets sharing most rare stems: within this many hours
_MIN_SHARED_STEMS, _MIN_STEM_OVERLAP = 5, 0.6  # cross-outlet rare-stem rule (tuning split)
_COMPANION_TITLE_SIM = 0.5  # video/collection page vs article of one outlet: title Jaccard
# Words (and capitalised names) in >= 1% of ../shared/corpus/news-items/items.jsonl titles +
# descriptions: too common to show that two reports share an event. Learned offline.
_COMMON_WORDS = """
000 1 10 11 13 19 2 20 2020 2021 2022 2023 3 4 5 6 9 according accused across administration
afghan afghanistan afghans against ago ahead aid airport allies already america american
americans among announced antony any army around arrested asylum attack attacks august
australia australian authorities away back ban bbc because become behind being belarus best
between biden big blinken bombing border boris britain british called calls capital change
channel chaos chaotic chief children china cities citizens city claims climate cnn come coming
company conflict continue continues control countries country court covid covid-19 cricket
crisis cup day days dead deadly deal death decades decision defeat desperate despite died
diplomatic down during early earthquake education end england escape europe evacuate evacuated
evacuation even ex exit face fall families family far fear fears female fight fighters fighting
final fire first five fled flee fleeing following forced forces foreign former found four
france friday front games general get getting girls given global go going gold government great
ground group harry head held help helped here high him history hit home homes hours house
humanitarian hundreds images including india inside international invasion investigation iran
isis israel joe john johnson k kabul key killed killing know last law leader leaders least
leave led left life like lives living london long look lost made major make making man many
marine match may medal media meeting members men migrant migrants military million minister
ministry monday month months morning most move murder national nations near nearly need news
next north number off office official officials old olympic olympics one only open other others
outside own pakistan papers part past peace people place plan plans pm poland police policy
political power president prime prince province public putin reading recent record refugee
refugees region remain report reports rescue return rights rule run russia russian s safe
sanctions saturday say school second secretary security see senior series service set seven
several should show shows since six social soldier soldiers some south speaks special staff
stage star state states still story strike students suicide summit sunday support take taken
takeover takes taking taliban talks team tells terror those thousands threat three through
thursday time tokyo told took top troops trump trying tuesday two u uk ukraine ukrainian un
under united updates us used using victory violence war warns watch way wednesday week weeks
west western while white win wins withdrawal without woman women work working world year years
young
"""
_CAPITAL = re.compile(r"\b[A-Z][\w'\u2019-]+")
PAGE_ARTICLE, PAGE_VIDEO, PAGE_COLLECTION = 0, 1, 2
_VIDEO_PATH = re.compile(r"/(?:av|videos?|watch|audio|podcasts?|clips?)(?:/|$)", re.IGNORECASE)
_COLLECTION_PATH = re.compile(
    r"/(?:collections?|live|gallery|galleries|in-pictures|pictures|photos?|interactive)(?:/|$)",
    re.IGNORECASE,
)
_SECOND_LEVEL = frozenset(["co", "com", "org", "net", "ac", "gov", "ne", "or", "go", "edu"])
_LEDE_WORDS = 40  # words of the text that feed the rare-stem set
_PAIR_STEMS = 4  # title stems (lowest hashes) whose pairs become band keys (6 keys)


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
    explainer: bool = False  # "Why ...", "Who is ...", "Analysis: ...": an angle, not a report
    outlet: int = 0  # 16-bit hash of the registrable domain of the link, 0 if unknown
    page: int = 0  # PAGE_ARTICLE, PAGE_VIDEO or PAGE_COLLECTION (from the URL path)
    stems: frozenset[int] = frozenset()  # rare word stems of title + lede (16-bit hashes)
    title_stems: tuple[int, ...] = ()  # the _PAIR_STEMS lowest 16-bit rare title stem hashes

    def to_bytes(self) -> bytes:
        sets = (sorted(self.title_words), sorted(self.title_numbers), sorted(self.entities))
        stems = sorted(self.stems)[:_MAX_STEMS]
        flags = int(self.series) | int(self.explainer) << 1 | (self.page & 3) << 2
        head = _HEADER.pack(
            _BLOB_VERSION, flags, min(self.n_shingles, 0xFFFF), self.title_key,
            self.url, self.content, self.published, len(self.title_bands),
            *(len(s) for s in sets), self.outlet, len(stems), len(self.title_stems),
        )  # fmt: skip
        body = [*self.mins, *sets[0], *sets[1], *sets[2], *stems, *self.title_stems]
        bands = struct.pack(f"<{len(self.title_bands)}I", *self.title_bands)
        return head + bands + struct.pack(f"<{len(body)}H", *body)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Signature:
        """Decode a v2 blob (or a v1 blob, written before outlets: outlet and stems empty)."""
        version = blob[0] if blob else 0
        header = {1: _HEADER_V1, 2: _HEADER}.get(version)
        if header is None or len(blob) < header.size:
            raise ValueError("not a dedupe signature blob (wrong version or truncated)")
        fields = header.unpack_from(blob)
        _, flags, n_sh, title_key, url, content, pub, n_tb, n_tw, n_tn, n_en = fields[:11]
        outlet, n_st, n_ts = fields[11:] if version == 2 else (0, 0, 0)
        tbands = struct.unpack_from(f"<{n_tb}I", blob, header.size)
        offset = header.size + 4 * n_tb
        a, b, c = NUM_PERM + n_tw, NUM_PERM + n_tw + n_tn, NUM_PERM + n_tw + n_tn + n_en
        values = struct.unpack_from(f"<{c + n_st + n_ts}H", blob, offset)
        return cls(
            tuple(values[:NUM_PERM]), n_sh, title_key, tbands, frozenset(values[NUM_PERM:a]),
            frozenset(values[a:b]), frozenset(values[b:c]), url, content, pub, bool(flags & 1),
            bool(flags & 2), outlet, (flags >> 2) & 3, frozenset(values[c : c + n_st]),
            tuple(values[c + n_st :]),
        )  # fmt: skip


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


def stem(word: str) -> str:
    """A crude English suffix stripper: bans/banned/banning -> ban, cities -> city."""
    w = word.lower().replace("\u2019", "'").removesuffix("'s")
    for suffix, repl, min_len in (("ies", "y", 5), ("ing", "", 6), ("ed", "", 5), ("es", "", 6)):
        if w.endswith(suffix) and len(w) >= min_len:
            w = w[: -len(suffix)] + repl
            break
    else:
        if w.endswith("s") and not w.endswith("ss") and len(w) >= 4:
            w = w[:-1]
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]  # banned -> bann -> ban
    return w


def rare_stems(text: str) -> list[str]:
    """Stems of the content words of ``text`` that are not common (``_COMMON_WORDS``)."""
    out = []
    for word in content_words(text):
        st = stem(word)
        if len(st) >= 3 and word not in _COMMON_WORDS_SET and st not in _COMMON_STEMS:
            out.append(st)
    return list(dict.fromkeys(out))


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
    outlet: str | None = None,
) -> Signature:
    """Fingerprint of one article; the keyword fields let :func:`decide` apply layers 1-2.

    ``content_hash_hex`` is :func:`content_hash` of the same title and text when the caller
    already has it (the workers do: it is ``Article.content_hash``). ``outlet`` is the
    publisher's registrable domain; by default it is taken from ``canonical_url``.
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
        explainer=_EXPLAINER.match(ctitle) is not None,
        outlet=_h(site, 16) if (site := outlet or outlet_of(canonical_url)) else 0,
        page=page_kind(canonical_url),
        stems=_small(_lede_stems(ctitle, body), _MAX_STEMS),
        title_stems=tuple(sorted({_h(x, 16) for x in rare_stems(ctitle)})[:_PAIR_STEMS]),
    )


def _lede_stems(ctitle: str, body: str) -> list[str]:
    lede = " ".join(body.split()[:_LEDE_WORDS])
    return rare_stems(ctitle + " " + lede)


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
    pairs = itertools.combinations(sig.title_stems, 2)
    keys += [f"p{_h(f'{x}.{y}', 32):08x}" for x, y in pairs if not sig.series]
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


_COMMON = frozenset(_h(w, 16) for w in _COMMON_WORDS.split())
_COMMON_WORDS_SET = frozenset(_COMMON_WORDS.split())
_COMMON_STEMS = frozenset(stem(w) for w in _COMMON_WORDS.split())


def _same_event(a: Signature, b: Signature, j: float, hours: float | None) -> bool:
    """Two outlets' reports of one event: close in time, sharing rare title words and names.

    Common words (``_COMMON``) do not count. Explainers never match (an angle on an event,
    not a report of it); series titles and differing title numbers are ruled out earlier.
    """
    if hours is None or hours > EVENT_WINDOW_H or a.explainer or b.explainer:
        return False
    ta, tb = a.title_words - _COMMON, b.title_words - _COMMON
    shared_title = len(ta & tb)
    shared_names = len((a.entities & b.entities) - _COMMON)
    title_sim = shared_title / len(ta | tb) if ta | tb else 0.0
    return shared_title >= 2 and title_sim >= 0.5 and shared_names >= 3 and j >= 0.2


def _different_outlets(a: Signature, b: Signature) -> bool:
    return bool(a.outlet and b.outlet and a.outlet != b.outlet)


def _stems_shared(a: Signature, b: Signature) -> tuple[int, float]:
    """Rare stems shared by the two title + lede sets, and that count over the smaller set."""
    shared = len(a.stems & b.stems)
    return shared, (shared / min(len(a.stems), len(b.stems)) if shared else 0.0)


def _companion(a: Signature, b: Signature, hours: float | None, tsim: float, j: float) -> bool:
    """A video or collection page and an article of one outlet under a (near-)same title."""
    if not (a.page or b.page) or _different_outlets(a, b) or a.series or b.series:
        return False
    if hours is None or hours > TITLE_WINDOW_H:
        return False
    return tsim >= _COMPANION_TITLE_SIM and (_stems_shared(a, b)[1] >= 0.5 or j >= 0.3)


def _cross_outlet(a: Signature, b: Signature, hours: float | None) -> bool:
    """Two outlets' reports of one event: most rare stems of title + lede shared, >= 2 of
    them in both titles, close in time. Never for one outlet (its later developments)."""
    if not _different_outlets(a, b) or hours is None or hours > STEMS_WINDOW_H:
        return False
    if a.explainer or b.explainer or a.series or b.series:
        return False
    shared, ratio = _stems_shared(a, b)
    in_titles = len((a.title_words & b.title_words) - _COMMON)
    return shared >= _MIN_SHARED_STEMS and ratio >= _MIN_STEM_OVERLAP and in_titles >= 2


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
    if _companion(a, b, hours, tsim, j):
        return DedupeDecision(duplicate=True, score=round(max(j, tsim), 3), method="companion")
    one_outlet = bool(a.outlet and a.outlet == b.outlet)
    if not series and not one_outlet and _same_event(a, b, j, hours):
        return DedupeDecision(duplicate=True, score=round(max(j, tsim), 3), method="event")
    if _cross_outlet(a, b, hours):
        shared = _stems_shared(a, b)[1]
        return DedupeDecision(duplicate=True, score=round(shared, 3), method="stems")
    return DedupeDecision(duplicate=False, score=round(max(j, tsim * j), 3), method="different")


def compare(a: DedupeItem, b: DedupeItem) -> DedupeDecision:
    """Exactly the workers' decision for a pair: ``decide`` on the two signatures."""
    return decide(signature_of(a), signature_of(b))
