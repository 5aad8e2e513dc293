"""The pairwise model layer of dedupe: rarity weights, weighted terms, model gating and file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.core import dedupe, rarity
from services.core.dedupe import DedupeItem, compare, signature_of
from services.core.dedupe_model import FEATURES, PairModel, load_pair_model, pair_features
from services.core.signature import Signature, terms_similarity

T0 = datetime(2022, 3, 3, 9, 0, tzinfo=UTC)


def _item(link: str, title: str, text: str, hours: float = 0.0) -> DedupeItem:
    return DedupeItem(title=title, text=text, link=link, published_at=T0 + timedelta(hours=hours))


# Two outlets, one event, told in their own words (few shared shingles, same names and facts).
BBC = _item(
    "https://www.bbc.com/sport/music-1",
    "Marisol Quintero: Folk singer-songwriter dies aged 71",
    "The Grammy-winning Venezuelan artist was best known for her harp ballads.",
)
CNN = _item(
    "https://edition.cnn.com/2022/03/03/entertainment/quintero",
    "Singer and songwriter Marisol Quintero has died at 71",
    "Venezuelan folk singer Marisol Quintero, whose harp ballads won a Grammy, died on "
    "Thursday. She was 71.",
    hours=3,
)


def test_rarity_weights_names_over_everyday_words() -> None:
    assert rarity.weight("the") == 0.0
    assert rarity.weight("said") == 0.0
    assert rarity.weight("Quintero") == rarity.MAX_WEIGHT
    assert 0 < rarity.weight("songwriter") < rarity.MAX_WEIGHT


def test_terms_carry_weights_and_title_flags_through_the_blob() -> None:
    sig = signature_of(BBC)
    assert Signature.from_bytes(sig.to_bytes()) == sig
    assert sig.title_term_weights and set(sig.title_term_weights) <= set(sig.term_weights)
    shared, jac = terms_similarity(sig, signature_of(CNN))
    assert shared > 5 and 0 < jac < 1


# Same names, different events: the rules call it different; only the model could merge it.
OTHER = _item(
    "https://edition.cnn.com/2022/03/03/entertainment/quintero-tour",
    "Marisol Quintero announces farewell tour of Europe",
    "The Venezuelan harp player will play twelve cities before retiring, her label said.",
    hours=3,
)


def _always(threshold: float) -> PairModel:
    return PairModel((0.0,) * len(FEATURES), 0.0, threshold)  # probability 0.5 for every pair


def test_two_outlets_in_their_own_words_are_one_story() -> None:
    assert compare(BBC, CNN).duplicate
    model = load_pair_model()
    assert model.probability(signature_of(BBC), signature_of(CNN)) >= model.threshold


def test_titles_sharing_only_names_are_never_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedupe, "load_pair_model", lambda: _always(0.0))
    assert not compare(BBC, OTHER).duplicate


def test_the_model_decides_only_what_the_rules_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    singer = OTHER.model_copy(
        update={"title": "Folk singer Marisol Quintero announces tour", "text": ""}
    )
    assert dedupe.decide_by_rules(signature_of(BBC), signature_of(singer)).method == "different"
    monkeypatch.setattr(dedupe, "load_pair_model", lambda: _always(0.4))
    assert compare(BBC, singer).method == "model"
    monkeypatch.setattr(dedupe, "load_pair_model", lambda: _always(0.6))
    assert compare(BBC, singer).method == "different"


def test_the_model_never_merges_one_outlets_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedupe, "load_pair_model", lambda: _always(0.0))
    singer = OTHER.model_copy(
        update={"title": "Folk singer Marisol Quintero announces tour", "text": ""}
    )
    same_outlet = singer.model_copy(update={"link": "https://www.bbc.com/news/music-2"})
    no_link = singer.model_copy(update={"link": None})
    far = singer.model_copy(update={"published_at": T0 + timedelta(days=5)})
    for other in (same_outlet, no_link, far):
        assert compare(BBC, other).method != "model"


def test_features_match_the_shipped_file() -> None:
    model = load_pair_model()
    assert len(model.weights) == len(FEATURES) == len(pair_features(*map(signature_of, (BBC, CNN))))
    assert 0.5 <= model.threshold < 1.0


def test_a_model_file_with_other_features_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"features": ["minhash"], "weights": [1.0], "bias": 0.0,
                                "threshold": 0.9}))  # fmt: skip
    with pytest.raises(ValueError, match="retrain"):
        load_pair_model(path)
