"""Dedupe decisions: is a candidate pair the same story? Layered exact identity and near-duplicates.

Pure logic for the workers and ``newswire dedupe check``. Exact identity (GUID -> canonical URL ->
content hash) is in :mod:`services.core.identity`; fingerprints and LSH band keys are in
:mod:`services.core.signature`. :func:`decide` confirms a candidate pair on two
:class:`Signature` s; :func:`compare` is exactly ``decide(signature_of(a), signature_of(b))``.
This module re-exports the public names of both so existing imports keep working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.core.canonical import canonicalize_url
from services.core.dedupe_model import load_pair_model
from services.core.identity import (
    PAGE_ARTICLE,
    PAGE_COLLECTION,
    PAGE_VIDEO,
    IdentityKeys,
    clean_title,
    content_hash,
    identity_keys,
    is_material_change,
    is_site_root,
    outlet_of,
    page_kind,
    shared_links,
    untrustworthy_guids,
)
from services.core.signature import (
    BANDS,
    NUM_PERM,
    ROWS,
    TITLE_BANDS,
    TITLE_ROWS,
    Signature,
    hours_apart,
    jaccard,
    lsh_band_keys,
    minhash_jaccard,
    names_conflict,
    overlap,
    signature,
    stem,
)

__all__ = [
    "BANDS",
    "MINHASH_DUP",
    "NUM_PERM",
    "PAGE_ARTICLE",
    "PAGE_COLLECTION",
    "PAGE_VIDEO",
    "ROWS",
    "TITLE_BANDS",
    "TITLE_ROWS",
    "TITLE_WINDOW_H",
    "DedupeDecision",
    "DedupeItem",
    "IdentityKeys",
    "Method",
    "Signature",
    "clean_title",
    "compare",
    "content_hash",
    "decide",
    "decide_by_rules",
    "identity_keys",
    "is_material_change",
    "is_site_root",
    "lsh_band_keys",
    "minhash_jaccard",
    "model_eligible",
    "outlet_of",
    "page_kind",
    "shared_links",
    "signature",
    "signature_of",
    "stem",
    "untrustworthy_guids",
]

MINHASH_DUP = 0.5  # estimated text Jaccard that alone makes a duplicate
TITLE_WINDOW_H = 72.0  # equal titles further apart than this are not merged on title
_COMPANION_TITLE_SIM = 0.5  # video/collection page vs article of one outlet: title Jaccard

Method = Literal[
    "url",
    "content_hash",
    "minhash",
    "title",
    "title+text",
    "companion",
    "model",
    "series_guard",
    "different",
]


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


def signature_of(item: DedupeItem) -> Signature:
    url = canonicalize_url(item.link) if item.link else None
    return signature(item.title, item.text, canonical_url=url, published_at=item.published_at)


def _different_outlets(a: Signature, b: Signature) -> bool:
    return bool(a.outlet and b.outlet and a.outlet != b.outlet)


def _companion(a: Signature, b: Signature, hours: float | None, tsim: float, j: float) -> bool:
    """A video or collection page and an article of one outlet under a (near-)same title."""
    if not (a.page or b.page) or _different_outlets(a, b) or a.series or b.series:
        return False
    if hours is None or hours > TITLE_WINDOW_H:
        return False
    return tsim >= _COMPANION_TITLE_SIM and (overlap(a.stems, b.stems) >= 0.5 or j >= 0.3)


def decide_by_rules(a: Signature, b: Signature) -> DedupeDecision:  # noqa: PLR0911
    """The rule layers of :func:`decide` (see the module docstring)."""
    if a.url and a.url == b.url:
        return DedupeDecision(duplicate=True, score=1.0, method="url")
    if a.content == b.content:
        return DedupeDecision(duplicate=True, score=1.0, method="content_hash")
    j = minhash_jaccard(a, b)
    tsim = jaccard(a.title_words, b.title_words)
    if a.title_numbers and b.title_numbers and a.title_numbers != b.title_numbers:
        return DedupeDecision(duplicate=False, score=round(j, 3), method="series_guard")
    if j < 0.95 and names_conflict(a, b):  # templated texts about different companies/people
        return DedupeDecision(duplicate=False, score=round(j, 3), method="different")
    hours = hours_apart(a, b)
    near = hours is None or hours <= TITLE_WINDOW_H
    series = a.series or b.series
    explainer = a.explainer or b.explainer  # an angle on an event: only near-copies merge
    close = hours is None or hours <= 24
    if (j >= 0.8 or (j >= MINHASH_DUP and close and not explainer)) and (not series or tsim >= 0.5):
        return DedupeDecision(duplicate=True, score=round(j, 3), method="minhash")
    ents = overlap(a.entities, b.entities)
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
    return DedupeDecision(duplicate=False, score=round(max(j, tsim * j), 3), method="different")


def model_eligible(a: Signature, b: Signature, rules: DedupeDecision) -> bool:
    """Whether the pair model may still merge a pair the rules called different: two known,
    different outlets (the model is for their reports of one event; one outlet's later
    developments share too much), titles sharing a word that is not a name (what happened),
    not ruled out by the series guard, within the title window, no series title, no explainer."""
    if rules.duplicate or rules.method != "different" or not _different_outlets(a, b):
        return False
    if not (a.title_words & b.title_words) - a.entities - b.entities:
        return False  # the titles share names only: "X dies" vs "X announces tour"
    hours = hours_apart(a, b)
    near = hours is None or hours <= TITLE_WINDOW_H
    return near and not (a.series or b.series or a.explainer or b.explainer)


def decide(a: Signature, b: Signature) -> DedupeDecision:
    """The worker's decision for a candidate pair: the rules (:func:`decide_by_rules`), then,
    for what they call different, the pairwise model (:mod:`services.core.dedupe_model`)."""
    rules = decide_by_rules(a, b)
    if not model_eligible(a, b, rules):
        return rules
    model = load_pair_model()
    p = model.probability(a, b)
    if p >= model.threshold:
        return DedupeDecision(duplicate=True, score=round(p, 3), method="model")
    return rules


def compare(a: DedupeItem, b: DedupeItem) -> DedupeDecision:
    """Exactly the workers' decision for a pair: ``decide`` on the two signatures."""
    return decide(signature_of(a), signature_of(b))
