"""Pairwise same-story model: the last layer of :func:`services.core.dedupe.decide`.

Two outlets rarely share enough shingles to pass the MinHash rules when each tells a story in
its own words. A logistic regression over a few pair measures of the two :class:`Signature` s
(text and title overlap, rarity-weighted title + lede overlap, shared names, time apart,
page kind) scores the pair; above the threshold it is one story. Weights and threshold
are fitted by ``scripts/train_dedupe_model.py`` on the tuning split of ``make eval-dedupe``
and live in ``data/dedupe-pair-model.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from services.core.classify_model import sigmoid
from services.core.signature import (
    COMMON_HASHES,
    Signature,
    hours_apart,
    jaccard,
    minhash_jaccard,
    overlap,
    terms_similarity,
)

MODEL_PATH = Path(__file__).parent / "data" / "dedupe-pair-model.json"
FEATURES = (
    "minhash",
    "title_jaccard",
    "terms_jaccard",
    "terms_shared",
    "names_shared",
    "entity_overlap",
    "hours_apart",
    "page_differs",
    "title_rare_shared",
    "title_terms_jaccard",
    "within_6h",
)
_WINDOW_H = 72.0


def pair_features(a: Signature, b: Signature) -> list[float]:
    """The model's inputs, each scaled to about [0, 1] (order: ``FEATURES``)."""
    shared_mass, terms_jac = terms_similarity(a, b)
    hours = hours_apart(a, b)
    rare_a, rare_b = a.title_words - COMMON_HASHES, b.title_words - COMMON_HASHES
    return [
        minhash_jaccard(a, b),
        jaccard(a.title_words, b.title_words),
        terms_jac,
        min(shared_mass, 40.0) / 10,
        min(len((a.entities & b.entities) - COMMON_HASHES), 6) / 6,
        overlap(a.entities, b.entities),
        math.log1p(hours) / math.log1p(_WINDOW_H) if hours is not None else 0.5,
        float(a.page != b.page),
        min(len(rare_a & rare_b), 4) / 4,
        terms_similarity(a, b, title_only=True)[1],
        float(hours is not None and hours <= 6),
    ]


@dataclass(frozen=True)
class PairModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, a: Signature, b: Signature) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, pair_features(a, b), strict=True))
        return sigmoid(z)

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "threshold": self.threshold,
        }


@cache
def load_pair_model(path: Path = MODEL_PATH) -> PairModel:
    """The shipped model; a file whose features differ from ``FEATURES`` is refused."""
    raw = json.loads(path.read_text())
    if raw.get("features") != list(FEATURES):
        raise ValueError(f"{path}: features {raw.get('features')} != {list(FEATURES)}; retrain")
    return PairModel(tuple(raw["weights"]), float(raw["bias"]), float(raw["threshold"]))
