"""Multi-label topic classifier: taxonomy rules plus a small learned model, one score per topic.

Rules are matched on word tokens (one pass per field, memoised per token), so the cost
does not grow with the number of terms. The learned part is a TF-IDF + logistic
regression trained at construction from the taxonomy's own example texts (pure numpy,
no downloaded weights). Both are combined per topic as

    score = sigmoid((rule_points + model_weight * model_logit - bias) / temperature)

and a topic is assigned when its score reaches the topic's threshold.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from services.core.classify_model import (
    DEFAULT_WEIGHTS_PATH,
    STOPWORDS,
    LinearTopicModel,
    feature_names,
    hash_feature,
    load_weights,
    rule_feature,
    sigmoid,
    topic_fingerprint,
)
from services.core.models import Evidence, TopicScore
from services.core.taxonomy import FieldName, Taxonomy, TopicDef

_TOKEN_RE = re.compile(r"\w+")
_MODEL_CLIP = 4.0
_CACHE_LIMIT = 200_000

Atom = tuple[str, bool]  # (word, is_prefix)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (apostrophes, hyphens and dots split words)."""
    return _TOKEN_RE.findall(text.lower())


def compile_term(term: str) -> tuple[Atom, ...]:
    """Turn a taxonomy term ("asylum seeker*") into a sequence of word atoms."""
    prefix = term.endswith("*")
    words = tokenize(term.rstrip("*"))
    return tuple((w, prefix and i == len(words) - 1) for i, w in enumerate(words))


class TermMatcher:
    """Finds every occurrence (token index) of a fixed set of terms in a token list."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms: list[str] = sorted(set(terms))
        self._atoms = [compile_term(t) for t in self.terms]
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        for pid, atoms in enumerate(self._atoms):
            word, is_prefix = atoms[0]
            (self._prefix if is_prefix else self._exact).setdefault(word, []).append(pid)
        self._lengths = sorted({len(w) for w in self._prefix})
        self._cache: dict[str, tuple[int, ...]] = {}

    def _starts(self, token: str) -> tuple[int, ...]:
        hit = self._cache.get(token)
        if hit is None:
            found = list(self._exact.get(token, ()))
            for length in self._lengths:
                if length > len(token):
                    break
                found.extend(self._prefix.get(token[:length], ()))
            hit = tuple(found)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[token] = hit
        return hit

    def find(self, tokens: Sequence[str]) -> dict[str, list[int]]:
        """Map each matched term to the token indices where it starts."""
        out: dict[str, list[int]] = {}
        n = len(tokens)
        cache = self._cache
        for i, token in enumerate(tokens):
            pids = cache.get(token)
            if pids is None:
                pids = self._starts(token)
            for pid in pids:
                atoms = self._atoms[pid]
                if i + len(atoms) > n or not _tail_matches(atoms, tokens, i):
                    continue
                out.setdefault(self.terms[pid], []).append(i)
        return out


def _tail_matches(atoms: tuple[Atom, ...], tokens: Sequence[str], start: int) -> bool:
    for offset in range(1, len(atoms)):
        word, is_prefix = atoms[offset]
        token = tokens[start + offset]
        if not (token.startswith(word) if is_prefix else token == word):
            return False
    return True


@dataclass
class _Doc:
    """One article's matches, per field."""

    title: dict[str, list[int]]
    body: dict[str, list[int]]
    title_text: str
    body_text: str
    matched: frozenset[str] = frozenset()  # terms found in title or body

    def __post_init__(self) -> None:
        self.matched = frozenset(self.title.keys() | self.body.keys())

    def where(self, term: str) -> list[FieldName]:
        out: list[FieldName] = []
        if term in self.title:
            out.append("title")
        if term in self.body:
            out.append("body")
        return out

    def anywhere(self, term: str) -> bool:
        return term in self.matched

    def first_of(self, alts: Sequence[str]) -> str | None:
        """The first of `alts` (in order) matched anywhere, if any."""
        if self.matched.isdisjoint(alts):
            return None
        return next(t for t in alts if t in self.matched)


@dataclass
class _RuleResult:
    points: float = 0.0
    gated: bool = False
    vetoed: bool = False
    evidence: list[Evidence] = field(default_factory=list)


def _field_weight(topic: TopicDef, fields: list[FieldName], only: FieldName) -> tuple[float, str]:
    allowed = [f for f in fields if only in ("both", f)]
    if not allowed:
        return 0.0, ""
    rules = topic.rules
    w = rules.title_weight if "title" in allowed else rules.body_weight
    return w, "both" if len(allowed) == 2 else allowed[0]


def _field_literal(name: str) -> FieldName:
    return "title" if name == "title" else "body" if name == "body" else "both"


def _score_terms(topic: TopicDef, doc: _Doc, res: _RuleResult) -> None:
    for t in topic.rules.terms:
        if t.term not in doc.matched:
            continue
        mult, where = _field_weight(topic, doc.where(t.term), t.field)
        if mult:
            kind = "phrase" if " " in t.term or "-" in t.term else "term"
            res.points += t.weight * mult
            res.evidence.append(
                Evidence(
                    kind=kind, value=t.term, field=_field_literal(where), weight=t.weight * mult
                )
            )
    for rx in topic.rules.regex:
        fields: list[FieldName] = []
        if re.search(rx.pattern, doc.title_text, re.IGNORECASE):
            fields.append("title")
        if re.search(rx.pattern, doc.body_text, re.IGNORECASE):
            fields.append("body")
        mult, where = _field_weight(topic, fields, rx.field)
        if mult:
            res.points += rx.weight * mult
            res.evidence.append(
                Evidence(
                    kind="regex", value=rx.pattern, field=_field_literal(where), weight=rx.weight
                )
            )


def _score_groups(topic: TopicDef, doc: _Doc, res: _RuleResult) -> None:
    for group in topic.rules.and_groups:
        hits = [doc.first_of(alts) for alts in group.all_of]
        if all(hits):
            in_title = all(not doc.title.keys().isdisjoint(alts) for alts in group.all_of)
            weight = group.weight * (topic.rules.title_weight if in_title else 1.0)
            res.points += weight
            value = f"{group.name}: " + " AND ".join(h for h in hits if h)
            where: FieldName = "title" if in_title else "both"
            res.evidence.append(Evidence(kind="and", value=value, field=where, weight=weight))
    for near in topic.rules.near:
        hit = _near_hit(near.a, near.b, near.n, doc)
        if hit:
            res.points += near.weight
            value = f"{near.name}: {hit[0]} NEAR/{near.n} {hit[1]}"
            res.evidence.append(
                Evidence(kind="proximity", value=value, field=hit[2], weight=near.weight)
            )


def _near_hit(
    a: tuple[str, ...], b: tuple[str, ...], n: int, doc: _Doc
) -> tuple[str, str, FieldName] | None:
    fields: tuple[tuple[FieldName, dict[str, list[int]]], ...] = (
        ("title", doc.title),
        ("body", doc.body),
    )
    found_a = [t for t in a if t in doc.matched]
    found_b = [t for t in b if t in doc.matched]
    for name, matches in fields:
        for ta in found_a:
            for tb in found_b:
                pa, pb = matches.get(ta), matches.get(tb)
                if pa and pb and any(abs(x - y) <= n for x in pa for y in pb):
                    return ta, tb, name
    return None


def _apply_exclusions(topic: TopicDef, doc: _Doc, res: _RuleResult) -> None:
    for ex in topic.rules.exclude:
        if ex.term not in doc.matched:
            continue
        fields = [f for f in doc.where(ex.term) if ex.field in ("both", f)]
        if not fields:
            continue
        if ex.veto:
            res.vetoed = True
        res.points -= ex.weight
        res.evidence.append(
            Evidence(
                kind="exclusion",
                value=ex.term + (" (veto)" if ex.veto else ""),
                field=_field_literal(fields[0] if len(fields) == 1 else "both"),
                weight=-ex.weight,
            )
        )


def score_rules(topic: TopicDef, doc: _Doc) -> _RuleResult:
    """Rule points of one topic with their evidence (0 points when the gate fails)."""
    res = _RuleResult()
    gate = topic.rules.require_any
    if gate and doc.matched.isdisjoint(gate):
        res.gated = True
        return res
    _score_terms(topic, doc, res)
    _score_groups(topic, doc, res)
    _apply_exclusions(topic, doc, res)
    return res


def _topic_terms(topic: TopicDef) -> set[str]:
    r = topic.rules
    terms = {t.term for t in r.terms} | set(r.require_any) | {e.term for e in r.exclude}
    for g in r.and_groups:
        for alts in g.all_of:
            terms.update(alts)
    for n in r.near:
        terms.update(n.a)
        terms.update(n.b)
    return terms


def _features(text: str) -> dict[str, float]:
    toks = [t for t in tokenize(text) if t not in STOPWORDS and not t.isdigit()]
    counts: dict[str, float] = {}
    for gram in toks + [f"{a} {b}" for a, b in itertools.pairwise(toks)]:
        counts[gram] = counts.get(gram, 0.0) + 1.0
    return {g: 1.0 + math.log(c) for g, c in counts.items()}


class TextModel:
    """TF-IDF (uni+bigrams, sublinear tf, L2) + L2-regularised logistic regression."""

    def __init__(self, positives: Sequence[str], negatives: Sequence[str]) -> None:
        docs = [_features(t) for t in (*positives, *negatives)]
        y = np.array([1.0] * len(positives) + [0.0] * len(negatives))
        df: dict[str, int] = {}
        for d in docs:
            for g in d:
                df[g] = df.get(g, 0) + 1
        n = len(docs)
        self.idf = {g: math.log((1 + n) / (1 + c)) + 1.0 for g, c in df.items()}
        self.vocab = {g: i for i, g in enumerate(sorted(self.idf))}
        x = np.zeros((n, len(self.vocab)))
        for row, d in enumerate(docs):
            for g, v in self._vector(d).items():
                x[row, self.vocab[g]] = v
        self.coef, self.intercept = _fit_logreg(x, y)
        self._weights = {g: float(self.coef[i]) for g, i in self.vocab.items()}

    def _vector(self, feats: dict[str, float]) -> dict[str, float]:
        vec = {g: v * self.idf[g] for g, v in feats.items() if g in self.idf}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {g: v / norm for g, v in vec.items()}

    def logit(self, text: str) -> tuple[float, list[tuple[str, float]]]:
        """Decision value and the features that contributed most to it."""
        contrib = [(g, v * self._weights[g]) for g, v in self._vector(_features(text)).items()]
        total = self.intercept + sum(c for _, c in contrib)
        contrib.sort(key=lambda gc: -abs(gc[1]))
        return total, contrib[:3]


def _fit_logreg(
    x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 500, lr: float = 4.0
) -> tuple[np.ndarray, float]:
    """Full-batch gradient descent on the class-balanced, L2-penalised log loss."""
    w = np.zeros(x.shape[1])
    b = 0.0
    pos = max(float(y.sum()), 1.0)
    neg = max(float(len(y) - y.sum()), 1.0)
    sample_w = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * neg))
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        g = (p - y) * sample_w
        w -= lr * (x.T @ g / len(y) + l2 * w)
        b -= lr * float(g.mean())
    return w, b


@dataclass(frozen=True)
class RuleOutcome:
    """Rule points of one topic for one article, and whether the gate or a veto fired."""

    points: float
    gated: bool
    vetoed: bool


class Classifier:
    """Scores articles against every topic of a taxonomy.

    A topic with a trained model in the weights file (`classifier-weights.json`, written by
    scripts/train_classifier.py) is scored by that calibrated model, whose inputs are the
    rule points and hashed word features. Other topics (or every topic when the file is
    absent or `weights=None`) fall back to rules + a model trained from the examples.
    """

    def __init__(self, taxonomy: Taxonomy, weights: Path | None = DEFAULT_WEIGHTS_PATH) -> None:
        self.taxonomy = taxonomy
        terms: set[str] = set()
        for topic in taxonomy.topics:
            terms |= _topic_terms(topic)
        self._matcher = TermMatcher(terms)
        self._hash_ids: dict[str, int] = {}  # feature name -> hashed id, memoised
        self.weights_meta: dict[str, Any] = {}
        self._learned: dict[str, LinearTopicModel] = {}
        if weights is not None and weights.exists():
            models, self.weights_meta = load_weights(weights)
            self._learned = {t.slug: models[t.slug] for t in taxonomy.topics if t.slug in models}
        shared_neg = [n for t in taxonomy.topics for n in t.examples.negative]
        self._models = {
            t.slug: TextModel(
                t.examples.positive,
                [*t.examples.negative, *(n for n in shared_neg if n not in t.examples.negative)],
            )
            for t in taxonomy.topics
            if t.slug not in self._learned
        }

    @property
    def learned_topics(self) -> tuple[str, ...]:
        """Slugs scored by a model from the weights file."""
        return tuple(self._learned)

    @property
    def stale_topics(self) -> tuple[str, ...]:
        """Slugs whose rules changed since their weights were trained (retrain advised)."""
        return tuple(
            t.slug
            for t in self.taxonomy.topics
            if t.slug in self._learned and self._learned[t.slug].fingerprint != topic_fingerprint(t)
        )

    def _doc(self, title: str, text: str) -> tuple[_Doc, list[str], list[str]]:
        title_tokens, body_tokens = tokenize(title), tokenize(text)
        doc = _Doc(
            title=self._matcher.find(title_tokens),
            body=self._matcher.find(body_tokens),
            title_text=title,
            body_text=text,
        )
        return doc, title_tokens, body_tokens

    def rule_outcomes(self, title: str, text: str) -> dict[str, RuleOutcome]:
        """Rule points per topic (the model's rule input; used by training)."""
        doc = self._doc(title, text)[0]
        out = {}
        for topic in self.taxonomy.topics:
            res = score_rules(topic, doc)
            out[topic.slug] = RuleOutcome(res.points, res.gated, res.vetoed)
        return out

    def _score_fallback(self, topic: TopicDef, res: _RuleResult, full_text: str) -> TopicScore:
        cal = topic.calibration
        logit, top = self._models[topic.slug].logit(full_text)
        logit = max(min(logit, _MODEL_CLIP), -_MODEL_CLIP)
        if res.gated:
            logit = min(logit, 0.0)
        contribution = cal.model_weight * logit
        if res.vetoed:
            score = 0.0
        else:
            score = sigmoid((res.points + contribution - cal.bias) / cal.temperature)
        feats = ", ".join(f"{g}({c:+.2f})" for g, c in top)
        model_ev = Evidence(kind="model", value=f"example-tfidf: {feats}", weight=contribution)
        evidence = sorted(res.evidence, key=lambda e: -abs(e.weight))
        return TopicScore(slug=topic.slug, score=round(score, 4), evidence=(*evidence, model_ev))

    def _score_learned(
        self, model: LinearTopicModel, res: _RuleResult, names: dict[int, str]
    ) -> TopicScore:
        evidence = sorted(res.evidence, key=lambda e: -abs(e.weight))
        if res.vetoed or res.gated:
            if res.gated:
                gate = Evidence(kind="exclusion", value="gate: no require_any term", weight=0.0)
                evidence.append(gate)
            return TopicScore(slug=model.slug, score=0.0, evidence=tuple(evidence))
        contrib = model.contributions(names, 1.0 / math.sqrt(len(names)) if names else 0.0)
        z = model.decision_from_text(res.points, sum(c for _, c in contrib))
        contrib.sort(key=lambda hc: -abs(hc[1]))
        rule_part = model.rule_weight * rule_feature(res.points)
        parts = [f"rules({rule_part:+.2f})"] + [f"{names[h]}({c:+.2f})" for h, c in contrib[:3]]
        text_part = sum(c for _, c in contrib)  # in this order: the published weight's rounding
        model_ev = Evidence(
            kind="model", value="hashed-logreg: " + ", ".join(parts), weight=round(text_part, 4)
        )
        score = round(model.probability(z), 4)
        return TopicScore(slug=model.slug, score=score, evidence=(*evidence, model_ev))

    def score_all(self, title: str, text: str) -> tuple[TopicScore, ...]:
        """Every topic's score with its evidence, in taxonomy order (for evaluation)."""
        doc, title_tokens, body_tokens = self._doc(title, text)
        names: dict[int, str] = {}
        if self._learned:
            ids = self._hash_ids
            for name in feature_names(title_tokens, body_tokens):
                h = ids.get(name)
                if h is None:
                    h = hash_feature(name)
                    if len(ids) < _CACHE_LIMIT:
                        ids[name] = h
                names.setdefault(h, name)
        out = []
        for topic in self.taxonomy.topics:
            res = score_rules(topic, doc)
            model = self._learned.get(topic.slug)
            if model is not None:
                out.append(self._score_learned(model, res, names))
            else:
                out.append(self._score_fallback(topic, res, f"{title}\n{text}"))
        return tuple(out)

    def classify(self, title: str, text: str) -> tuple[TopicScore, ...]:
        """Topics whose score reaches their threshold, best first."""
        thresholds = {t.slug: t.threshold for t in self.taxonomy.topics}
        hits = [s for s in self.score_all(title, text) if s.score >= thresholds[s.slug]]
        return tuple(sorted(hits, key=lambda s: -s.score))
