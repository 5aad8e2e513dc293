"""The learned part of the classifier: hashed word/bigram features + logistic regression.

One linear model per topic over (a) the topic's rule points and (b) hashed unigrams and
bigrams of title and body, followed by Platt calibration fitted on out-of-fold scores:

    z = bias + rule_weight * clip(points / RULE_SCALE) + sum(w[h] * x[h])
    score = sigmoid(platt_a * z + platt_b)

Features are CRC32 hashes, so the shipped weights file holds numbers only (no vocabulary).
Training lives in `scripts/train_classifier.py`; this module only fits, saves and applies.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.core.errors import ConfigError
from services.core.taxonomy import TopicDef

FEATURE_BITS = 20
_MASK = (1 << FEATURE_BITS) - 1
RULE_SCALE = 5.0
RULE_CLIP = 3.0
FORMAT = "newswire.classifier-weights.v1"
DEFAULT_WEIGHTS_PATH = Path(__file__).resolve().parent / "data" / "classifier-weights.json"

FloatArray = npt.NDArray[np.float64]

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "by",
        "at",
        "as",
        "with",
        "from",
        "that",
        "this",
        "it",
        "its",
        "into",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "said",
        "says",
        "after",
        "over",
        "not",
        "no",
        "he",
        "she",
        "they",
        "their",
        "his",
        "her",
        "we",
        "you",
        "i",
        "our",
        "new",
        "more",
        "than",
        "about",
        "who",
        "which",
        "what",
        "when",
        "s",
    ]
)


def feature_names(title_tokens: Iterable[str], body_tokens: Iterable[str]) -> list[str]:
    """Feature strings of one article: unigrams and bigrams of the text, title unigrams."""
    title = [t for t in title_tokens if t not in STOPWORDS and not t.isdigit()]
    body = [t for t in body_tokens if t not in STOPWORDS and not t.isdigit()]
    words = title + body
    names = [f"u:{w}" for w in words]
    names += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    names += [f"t:{w}" for w in title]
    return names


def hash_feature(name: str) -> int:
    """Stable hashed id of a feature string (CRC32, FEATURE_BITS bits)."""
    return zlib.crc32(name.encode("utf-8")) & _MASK


def hashed_vector(names: Iterable[str]) -> dict[int, float]:
    """Binary presence of each hashed feature, L2-normalised."""
    ids = {hash_feature(n) for n in names}
    if not ids:
        return {}
    value = 1.0 / math.sqrt(len(ids))
    return dict.fromkeys(ids, value)


def rule_feature(points: float) -> float:
    """The rule points as a model input, scaled and clipped."""
    return max(-RULE_CLIP, min(RULE_CLIP, points / RULE_SCALE))


def topic_fingerprint(topic: TopicDef) -> str:
    """Short hash of a topic's rules: tells when weights were trained against other rules."""
    return hashlib.sha1(topic.rules.model_dump_json().encode()).hexdigest()[:12]  # noqa: S324


def sigmoid(z: float) -> float:
    """Logistic function, clipped so that extreme scores cannot overflow."""
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


@dataclass(frozen=True)
class LinearTopicModel:
    """A trained, calibrated linear model for one topic."""

    slug: str
    bias: float
    rule_weight: float
    weights: Mapping[int, float]
    platt_a: float
    platt_b: float
    fingerprint: str = ""

    def decision(self, points: float, vector: Mapping[int, float]) -> float:
        """Uncalibrated decision value z."""
        text = sum(self.weights.get(h, 0.0) * v for h, v in vector.items())
        return self.decision_from_text(points, text)

    def decision_from_text(self, points: float, text: float) -> float:
        """z from the rule points and an already summed text part."""
        return self.bias + self.rule_weight * rule_feature(points) + text

    def contributions(self, ids: Iterable[int], value: float) -> list[tuple[int, float]]:
        """(id, weight * value) for the ids the model has a weight for, in input order."""
        weights = self.weights
        return [(h, weights[h] * value) for h in ids if h in weights]

    def probability(self, z: float) -> float:
        """Calibrated probability of the topic given the decision value."""
        return sigmoid(self.platt_a * z + self.platt_b)

    def to_json(self) -> dict[str, Any]:
        return {
            "bias": round(self.bias, 5),
            "rule_weight": round(self.rule_weight, 5),
            "platt": [round(self.platt_a, 5), round(self.platt_b, 5)],
            "rules_fingerprint": self.fingerprint,
            "weights": {str(h): round(w, 4) for h, w in sorted(self.weights.items())},
        }


def _model_from_json(slug: str, raw: Any, path: Path) -> LinearTopicModel:
    try:
        platt_a, platt_b = (float(v) for v in raw["platt"])
        return LinearTopicModel(
            slug=slug,
            bias=float(raw["bias"]),
            rule_weight=float(raw["rule_weight"]),
            weights={int(h): float(w) for h, w in raw["weights"].items()},
            platt_a=platt_a,
            platt_b=platt_b,
            fingerprint=str(raw.get("rules_fingerprint", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: topic {slug!r}: malformed weights ({exc!r}); "
            "re-run scripts/train_classifier.py"
        ) from exc


def load_weights(path: Path) -> tuple[dict[str, LinearTopicModel], dict[str, Any]]:
    """Models per slug and the file's metadata; ConfigError when the file is malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read classifier weights: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: classifier weights are not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a {FORMAT} file; re-run scripts/train_classifier.py")
    if data.get("feature_bits") != FEATURE_BITS:
        raise ConfigError(f"{path}: feature_bits differs from {FEATURE_BITS}; retrain")
    topics = data.get("topics")
    if not isinstance(topics, dict):
        raise ConfigError(f"{path}: 'topics' must be a mapping of slug to model")
    models = {slug: _model_from_json(slug, raw, path) for slug, raw in topics.items()}
    return models, dict(data.get("meta", {}))


def dump_weights(models: Iterable[LinearTopicModel], meta: Mapping[str, Any], path: Path) -> None:
    """Write models (numbers only) and metadata as compact JSON."""
    data = {
        "format": FORMAT,
        "feature_bits": FEATURE_BITS,
        "meta": dict(meta),
        "topics": {m.slug: m.to_json() for m in models},
    }
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")


def fit_logreg(
    x: FloatArray,
    y: FloatArray,
    l2: FloatArray,
    sample_weight: FloatArray,
    steps: int = 400,
) -> tuple[FloatArray, float]:
    """Weighted, L2-penalised logistic regression (per-column penalty) by Nesterov descent."""
    sw = sample_weight / sample_weight.sum()
    lipschitz = 0.25 * float(np.linalg.norm(x * np.sqrt(sw)[:, None], 2)) ** 2
    lr = 1.0 / (lipschitz + float(l2.max()) + 0.25)
    w = np.zeros(x.shape[1])
    b = 0.0
    w_prev, b_prev = w.copy(), b
    for k in range(1, steps + 1):
        mom = (k - 1) / (k + 2)
        vw, vb = w + mom * (w - w_prev), b + mom * (b - b_prev)
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ vw + vb, -40, 40)))
        g = (p - y) * sw
        w_prev, b_prev = w, b
        w = vw - lr * (x.T @ g + l2 * vw)
        b = vb - lr * float(g.sum())
    return w, b


def fit_platt(z: FloatArray, y: FloatArray, steps: int = 100) -> tuple[float, float]:
    """Platt scaling (with Platt's smoothed targets) by Newton's method."""
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    t = np.where(y > 0, (pos + 1) / (pos + 2), 1 / (neg + 2))
    a, b = 1.0, 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * z + b, -40, 40)))
        r = p * (1 - p) + 1e-9
        g = np.array([float(((p - t) * z).sum()), float((p - t).sum())])
        h = np.array(
            [[float((r * z * z).sum()), float((r * z).sum())], [float((r * z).sum()), r.sum()]]
        )
        step = np.linalg.solve(h + 1e-6 * np.eye(2), g)
        a, b = a - float(step[0]), b - float(step[1])
        if float(np.abs(step).max()) < 1e-8:
            break
    return a, b
