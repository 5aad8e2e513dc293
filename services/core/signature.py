"""Near-duplicate fingerprints: MinHash of shingles, title and name sets, rarity-weighted
title + lede terms, LSH band keys, and the pair measures :func:`decide` and the pair model use.

:class:`Signature` is compact: the worker keeps one ~260-byte blob (``to_bytes``) per article.
"""

from __future__ import annotations

import itertools
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from services.core.identity import (
    clean_text,
    clean_title,
    content_hash,
    hash_bits,
    outlet_of,
    page_kind,
)
from services.core.rarity import weight as rarity
from services.core.textnorm import content_tokens, words

NUM_PERM = 64  # 16-bit MinHash values: 128 bytes per blob (8-bit ones estimate J too noisily)
MIN_BITS = 16
# LSH on the first 32 minima: P(candidate) = 1-(1-J^4)^8: 0.40 at J=0.5, 0.88 at 0.7, 0.99 at
# 0.8 (copies); the title, title-band and rare-term pair keys find the looser matches.
BANDS, ROWS = 8, 4
_MIN_TITLE_WORDS = 4
MAX_SET = 24
_SEED = 20210920
_BLOB_VERSION = 3  # v2 added the outlet, page kind and rare stems; v3 weighs the stems (terms)
_HEADER_V1 = struct.Struct("<BBHIQQIBBBB")
_HEADER_V2 = struct.Struct("<BBHIQQIBBBBHBB")
_HEADER = struct.Struct("<BBHIQQIBBBBHB")
_MAX_TERMS = 24
_RARE = 15  # term weight (tenths) from which a stem counts as rare: companion rule, pair keys
TITLE_TERM, _WEIGHT = 0x80, 0x7F
_MIN_MASK = (1 << MIN_BITS) - 1
_NEWS_COMMON_WEIGHT = 1.0  # cap for words common in news (``_COMMON_WORDS``)
TITLE_BANDS, TITLE_ROWS = 4, 2  # title-word LSH: P(candidate) 0.83 at title J=0.6, 0.5 at 0.4
# MinHash as in datasketch (affine permutations mod the Mersenne prime 2^61-1), written out
# with numpy because importing datasketch imports redis, which the pure core must not.
_PRIME = np.uint64((1 << 61) - 1)
_RNG = np.random.default_rng(_SEED)
_A = _RNG.integers(1, 1 << 31, NUM_PERM, dtype=np.uint64)
_B = _RNG.integers(0, 1 << 31, NUM_PERM, dtype=np.uint64)
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
_EXPLAINER = re.compile(  # also after a "Name:" kicker: "Zaghari-Ratcliffe: Why has she ..."
    r"^(?:[^:?]{1,40}:\s*)?(?:why|who|how|what|analysis|opinion|explained|explainer"
    r"|watch the moment)\b"
)
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
_LEDE_WORDS = 40  # words of the text that feed the weighted terms
_PAIR_TERMS = 4  # rarest terms of title + lede whose pairs become band keys (6 keys)


@dataclass(frozen=True, slots=True)
class Signature:
    """Compact near-duplicate fingerprint; ``to_bytes()`` is what the worker stores."""

    mins: tuple[int, ...]  # NUM_PERM MinHash values truncated to MIN_BITS bits
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
    # Stems of title + lede, rarest first: (16-bit hash, code); code = weight in tenths, plus
    # ``TITLE_TERM`` (bit 7) when the stem is in the title.
    terms: tuple[tuple[int, int], ...] = ()

    @property
    def stems(self) -> frozenset[int]:
        """Hashes of the rare terms (weight >= ``_RARE``)."""
        return frozenset(h for h, c in self.terms if c & _WEIGHT >= _RARE)

    @property
    def term_weights(self) -> dict[int, int]:
        return {h: c & _WEIGHT for h, c in self.terms}

    @property
    def title_term_weights(self) -> dict[int, int]:
        return {h: c & _WEIGHT for h, c in self.terms if c & TITLE_TERM}

    def to_bytes(self) -> bytes:
        sets = (sorted(self.title_words), sorted(self.title_numbers), sorted(self.entities))
        terms = self.terms[:_MAX_TERMS]
        flags = int(self.series) | int(self.explainer) << 1 | (self.page & 3) << 2
        head = _HEADER.pack(
            _BLOB_VERSION, flags, min(self.n_shingles, 0xFFFF), self.title_key,
            self.url, self.content, self.published, len(self.title_bands),
            *(len(s) for s in sets), self.outlet, len(terms),
        )  # fmt: skip
        body = [*sets[0], *sets[1], *sets[2], *(h for h, _ in terms)]
        bands = struct.pack(f"<{len(self.title_bands)}I", *self.title_bands)
        weights = bytes(c for _, c in terms)
        return head + bands + struct.pack(f"<{NUM_PERM + len(body)}H", *self.mins, *body) + weights

    @classmethod
    def from_bytes(cls, blob: bytes) -> Signature:
        """Decode a v3 blob; v2 (unweighted stems) and v1 (no outlet) blobs still decode."""
        version = blob[0] if blob else 0
        header = {1: _HEADER_V1, 2: _HEADER_V2, 3: _HEADER}.get(version)
        if header is None or len(blob) < header.size:
            raise ValueError("not a dedupe signature blob (wrong version or truncated)")
        fields = header.unpack_from(blob)
        _, flags, n_sh, title_key, url, content, pub, n_tb, n_tw, n_tn, n_en = fields[:11]
        outlet, n_terms = fields[11:13] if version >= 2 else (0, 0)
        n_extra = fields[13] if version == 2 else 0  # v2: title stems, no longer used
        tbands = struct.unpack_from(f"<{n_tb}I", blob, header.size)
        offset = header.size + 4 * n_tb
        a, b, c = NUM_PERM + n_tw, NUM_PERM + n_tw + n_tn, NUM_PERM + n_tw + n_tn + n_en
        values = struct.unpack_from(f"<{c + n_terms + n_extra}H", blob, offset)
        hashes = values[c : c + n_terms]
        end = offset + 2 * len(values)
        weights = blob[end : end + n_terms] if version == 3 else bytes([_RARE] * n_terms)
        return cls(
            values[:NUM_PERM], n_sh, title_key, tbands, frozenset(values[NUM_PERM:a]),
            frozenset(values[a:b]), frozenset(values[b:c]), url, content, pub, bool(flags & 1),
            bool(flags & 2), outlet, (flags >> 2) & 3, tuple(zip(hashes, weights, strict=True)),
        )  # fmt: skip


@lru_cache(maxsize=1 << 16)  # words repeat across articles: stem each once
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


def weighted_terms(content: list[str]) -> dict[str, float]:
    """Stems of content words with their rarity (:func:`rarity.weight` of the word; words
    common in news are capped at ``_NEWS_COMMON_WEIGHT``); zero weights dropped."""
    out: dict[str, float] = {}
    for word in content:
        st = stem(word)
        if len(st) < 3:
            continue
        w = rarity(word)
        if word in _COMMON_WORDS_SET or st in _COMMON_STEMS:
            w = min(w, _NEWS_COMMON_WEIGHT)
        if w > out.get(st, 0.0):
            out[st] = w
    return out


COMMON_HASHES = frozenset(hash_bits(w, 16) for w in _COMMON_WORDS.split())
_COMMON_WORDS_SET = frozenset(_COMMON_WORDS.split())
_COMMON_STEMS = frozenset(stem(w) for w in _COMMON_WORDS.split())


def _shingles(title: list[str], body: list[str]) -> set[bytes]:
    """Word 2-shingles of the cleaned title's and body's tokens plus their content words
    (which keep short texts comparable)."""
    grams = {f"{a} {b}" for toks in (title, body) for a, b in itertools.pairwise(toks)}
    grams |= set(content_tokens(title)) | set(content_tokens(body))
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


def _title_numbers(title: list[str]) -> set[str]:
    return {w for w in title if w[:1].isdigit() or w in _NUMBER_WORDS}


def _small(values: Iterable[str], cap: int = MAX_SET) -> frozenset[int]:
    return frozenset(sorted({hash_bits(v, 16) for v in values})[:cap])


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
    title_tokens, body_tokens = words(ctitle), words(clean_text(title, text))
    shingles = _shingles(title_tokens, body_tokens)
    series = _SERIES.search(ctitle) is not None
    tw = content_tokens(title_tokens)
    specific = not series and len(tw) >= _MIN_TITLE_WORDS
    return Signature(
        mins=tuple(int(v) for v in _minhash(shingles, NUM_PERM) & _MIN_MASK)
        if shingles
        else (0,) * NUM_PERM,
        n_shingles=len(shingles),
        title_key=hash_bits(ctitle, 32) if specific else 0,
        title_bands=_title_bands(tw) if specific else (),
        title_words=_small(tw, 16),
        title_numbers=_small(_title_numbers(title_tokens), 8),
        entities=_small(_entities(title, text)),
        url=hash_bits(canonical_url, 64) if canonical_url else 0,
        content=int((content_hash_hex or content_hash(title, text))[:16], 16),
        published=_minutes(published_at),
        series=series,
        explainer=_EXPLAINER.match(ctitle) is not None,
        outlet=hash_bits(site, 16) if (site := outlet or outlet_of(canonical_url)) else 0,
        page=page_kind(canonical_url),
        terms=_lede_terms(tw, content_tokens(body_tokens[:_LEDE_WORDS])),
    )


def _lede_terms(title: list[str], lede: list[str]) -> tuple[tuple[int, int], ...]:
    """The ``_MAX_TERMS`` rarest stems of the content words of title + lede as (16-bit hash,
    code): see ``Signature.terms``."""
    in_title = {hash_bits(stem(w), 16) for w in title}
    weighted: dict[int, int] = {}
    for st, w in weighted_terms(title + lede).items():
        h, tenths = hash_bits(st, 16), round(w * 10)
        if tenths and tenths > weighted.get(h, 0):
            weighted[h] = tenths
    ranked = sorted(weighted.items(), key=lambda hw: (-hw[1], hw[0]))[:_MAX_TERMS]
    return tuple((h, w | (TITLE_TERM if h in in_title else 0)) for h, w in ranked)


def _minhash(shingles: set[bytes], num_perm: int) -> npt.NDArray[np.uint64]:
    """The ``num_perm`` minimum 32-bit permuted hashes of the shingles (uint64 array)."""
    # CRC-32 (zlib, C): 3x cheaper than blake2b; the affine permutations below do the mixing.
    hashes = np.fromiter(
        (zlib.crc32(x) for x in shingles),
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
    return tuple(hash_bits(f"{int(r[0])}.{int(r[1])}", 32) for r in rows)


def lsh_band_keys(sig: Signature) -> tuple[str, ...]:
    """Short LSH keys: ``BANDS`` text bands (``<band hex><8 hex>``), the title key
    ``t<8 hex>``, 4 title-word bands ``w<band><8 hex>`` and up to 6 pairs of the rarest
    terms ``p<8 hex>`` (9-10 characters each, <= 19 keys)."""
    keys: list[str] = []
    if sig.n_shingles:
        rows = [sig.mins[i * ROWS : (i + 1) * ROWS] for i in range(BANDS)]
        keys = [f"{i:x}{hash_bits(str(r), 32):08x}" for i, r in enumerate(rows)]
    if sig.title_key:
        keys.append(f"t{sig.title_key:08x}")
    keys += [f"w{i}{v:08x}" for i, v in enumerate(sig.title_bands)]
    rarest = sorted(h for h, c in sig.terms[:_PAIR_TERMS] if c & _WEIGHT >= _RARE)
    pairs = itertools.combinations(rarest, 2)
    keys += [f"p{hash_bits(f'{x}.{y}', 32):08x}" for x, y in pairs if not sig.series]
    return tuple(keys)


def minhash_jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard of the two shingle sets (0 when either text is empty)."""
    if not a.n_shingles or not b.n_shingles:
        return 0.0
    same = sum(1 for x, y in zip(a.mins, b.mins, strict=True) if x == y)
    chance = 2.0**-MIN_BITS  # truncated minima: unequal ones still agree this often
    return max(0.0, (same / NUM_PERM - chance) / (1 - chance))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def overlap(a: frozenset[int], b: frozenset[int]) -> float:
    """Shared members over the size of the smaller set (0 when either is empty)."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def hours_apart(a: Signature, b: Signature) -> float | None:
    return abs(a.published - b.published) / 60 if a.published and b.published else None


def terms_similarity(
    a: Signature, b: Signature, *, title_only: bool = False
) -> tuple[float, float]:
    """Rarity-weighted overlap of the title + lede terms (or of the title's terms only):
    (shared weight, weighted Jaccard)."""
    if title_only:
        wa, wb = a.title_term_weights, b.title_term_weights
    else:
        wa, wb = a.term_weights, b.term_weights
    shared = sum(min(wa[h], wb[h]) for h in wa.keys() & wb.keys()) / 10
    union = (sum(wa.values()) + sum(wb.values())) / 10 - shared
    return shared, (shared / union if union else 0.0)


def names_conflict(a: Signature, b: Signature) -> bool:
    """Each title names something (a title word that is a name in its text) the other's text
    never mentions: templated items about different companies or people. Entity sets cut at
    ``MAX_SET`` are incomplete, so they prove nothing missing."""
    if len(a.entities) >= MAX_SET or len(b.entities) >= MAX_SET:
        return False
    only_a = (a.title_words & a.entities) - b.entities
    only_b = (b.title_words & b.entities) - a.entities
    return bool(only_a and only_b) and jaccard(a.title_words, b.title_words) <= 0.5
