"""The learned model: hashing, fitting, calibration, the weights file and its use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.core.classify import Classifier
from services.core.classify_model import (
    DEFAULT_WEIGHTS_PATH,
    LinearTopicModel,
    dump_weights,
    feature_names,
    fit_logreg,
    fit_platt,
    hash_feature,
    hashed_vector,
    load_weights,
)
from services.core.errors import ConfigError
from services.core.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy


def test_hash_is_stable_across_processes() -> None:
    assert hash_feature("u:refugee") == hash_feature("u:refugee") == 493497  # CRC32, 20 bits
    assert hash_feature("u:refugee") != hash_feature("u:refugees")


def test_features_skip_stopwords_and_mark_title_words() -> None:
    names = feature_names(["refugees", "in", "camp"], ["the", "camp", "2021"])
    assert "u:in" not in names and "u:2021" not in names
    assert {"u:refugees", "b:refugees camp", "t:camp"} <= set(names)
    vec = hashed_vector(names)
    assert abs(sum(v * v for v in vec.values()) - 1.0) < 1e-9


def test_logreg_learns_the_informative_column() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 1] > 0).astype(float)
    w, _ = fit_logreg(x, y, np.full(3, 1e-3), np.ones(200), steps=600)
    assert w[1] > 1.0 and abs(w[0]) < 0.5 * w[1] and abs(w[2]) < 0.5 * w[1]


def test_platt_recovers_scale_and_offset() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(scale=2.0, size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(2.0 * z - 1.0)))).astype(float)
    a, b = fit_platt(z, y)
    assert a == pytest.approx(2.0, abs=0.3) and b == pytest.approx(-1.0, abs=0.3)


def test_weights_round_trip_and_errors(tmp_path: Path) -> None:
    model = LinearTopicModel("t", -1.0, 2.0, {5: 0.5, 9: -0.25}, 1.5, -0.5, "abc")
    path = tmp_path / "w.json"
    dump_weights([model], {"trained_on": "dev"}, path)
    models, meta = load_weights(path)
    assert models["t"] == model and meta == {"trained_on": "dev"}
    assert models["t"].probability(models["t"].decision(5.0, {5: 1.0})) > 0.5
    path.write_text('{"format": "other"}')
    with pytest.raises(ConfigError, match=r"re-run scripts/train_classifier\.py"):
        load_weights(path)
    data = {
        "format": "newswire.classifier-weights.v1",
        "feature_bits": 20,
        "topics": {"t": {"bias": 0.0}},
    }
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="topic 't': malformed weights"):
        load_weights(path)


def test_shipped_weights_hold_numbers_only() -> None:
    data = json.loads(DEFAULT_WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert data["meta"]["trained_on"] == "dev"
    for topic in data["topics"].values():
        assert topic["weights"] and all(key.isdigit() for key in topic["weights"])
        assert all(isinstance(v, float | int) for v in topic["weights"].values())


def test_shipped_weights_match_the_taxonomy() -> None:
    clf = Classifier(load_taxonomy(DEFAULT_TAXONOMY_PATH))
    assert set(clf.learned_topics) == {"refugees", "taliban-diplomacy"}
    assert clf.stale_topics == (), "rules changed: re-run scripts/train_classifier.py"


def test_without_weights_falls_back_to_example_model() -> None:
    clf = Classifier(load_taxonomy(DEFAULT_TAXONOMY_PATH), weights=None)
    assert clf.learned_topics == ()
    (score,) = clf.classify("Refugees cross the border", "The UN refugee agency opened a camp.")
    assert any(e.kind == "model" and e.value.startswith("example-tfidf") for e in score.evidence)
