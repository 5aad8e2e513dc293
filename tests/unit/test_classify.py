"""Classifier: rule semantics, evidence, hard negatives, and the seed article."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.core.classify import Classifier, TermMatcher, tokenize
from services.core.classify_model import DEFAULT_WEIGHTS_PATH
from services.core.taxonomy import (
    DEFAULT_TAXONOMY_PATH,
    AndGroup,
    Calibration,
    Examples,
    Exclusion,
    NearRule,
    Rules,
    Taxonomy,
    TopicDef,
    WeightedTerm,
    load_taxonomy,
)

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed-article.txt"
_EX = Examples(positive=("x y z",) * 3, negative=("p q r",) * 3)


def _one(rules: Rules) -> Classifier:
    topic = TopicDef(
        slug="t",
        name="T",
        description="test topic",
        rules=rules,
        threshold=0.5,
        calibration=Calibration(bias=2.0, model_weight=0.0),
        examples=_EX,
    )
    return Classifier(Taxonomy(topics=(topic,)))


def _score(clf: Classifier, title: str, text: str = "") -> float:
    return clf.score_all(title, text)[0].score


@pytest.fixture(scope="module", params=["learned", "fallback"])
def default(request: pytest.FixtureRequest) -> Classifier:
    """The shipped taxonomy, with the trained weights and without them (fallback)."""
    weights = DEFAULT_WEIGHTS_PATH if request.param == "learned" else None
    return Classifier(load_taxonomy(DEFAULT_TAXONOMY_PATH), weights=weights)


def test_term_matcher_phrases_prefixes_and_hyphens() -> None:
    m = TermMatcher(["asylum seeker*", "taliban", "intra afghan"])
    found = m.find(tokenize("Intra-Afghan talks; the Taliban's asylum-seekers"))
    assert set(found) == {"asylum seeker*", "taliban", "intra afghan"}
    assert m.find(tokenize("asylum alone")) == {}


def test_and_group_needs_every_member() -> None:
    group = AndGroup(name="g", all_of=(("taliban",), ("talks", "envoy")), weight=3.0)
    clf = _one(Rules(and_groups=(group,)))
    assert _score(clf, "", "The Taliban held talks") > 0.5
    assert _score(clf, "", "The Taliban advanced") < 0.5
    assert _score(clf, "", "Envoy talks resumed") < 0.5
    ev = clf.score_all("", "The Taliban held talks")[0].evidence
    assert any(e.kind == "and" and e.value == "g: taliban AND talks" for e in ev)


def test_near_respects_distance() -> None:
    near = NearRule(name="n", a=("taliban",), b=("talks",), n=3, weight=3.0)
    clf = _one(Rules(near=(near,)))
    assert _score(clf, "", "Taliban agree to talks") > 0.5
    far = "Taliban fighters entered the city while elsewhere diplomats prepared talks"
    assert _score(clf, "", far) < 0.5
    ev = clf.score_all("", "Taliban agree to talks")[0].evidence
    assert any(e.kind == "proximity" and "NEAR/3" in e.value for e in ev)


def test_exclusion_penalty_and_veto() -> None:
    terms = (WeightedTerm(term="evacuat*", weight=3.0),)
    penalty = _one(Rules(terms=terms, exclude=(Exclusion(term="wildfire*", weight=2.0),)))
    assert _score(penalty, "", "Evacuation ordered") > 0.5
    assert _score(penalty, "", "Wildfire evacuation ordered") < 0.5
    veto = _one(Rules(terms=(WeightedTerm(term="asylum", weight=9.0),),
                      exclude=(Exclusion(term="arkham", veto=True),)))  # fmt: skip
    assert _score(veto, "Arkham Asylum", "asylum asylum") == 0.0
    ev = veto.score_all("Arkham Asylum", "")[0].evidence
    assert any(e.kind == "exclusion" and e.value == "arkham (veto)" for e in ev)


def test_title_counts_more_than_body() -> None:
    clf = _one(Rules(title_weight=2.0, terms=(WeightedTerm(term="refugee*", weight=1.5),)))
    assert _score(clf, "Refugees arrive", "") > 0.5
    assert _score(clf, "News", "refugees arrive") < 0.5


def test_require_any_gates_rules() -> None:
    clf = _one(Rules(require_any=("taliban",), terms=(WeightedTerm(term="talks", weight=5.0),)))
    assert _score(clf, "Talks resume", "") < 0.5
    assert _score(clf, "Talks resume with Taliban", "") > 0.5


def test_labels_carry_rule_and_model_evidence(default: Classifier) -> None:
    topics = default.classify("Refugees cross the border", "The UN refugee agency opened a camp.")
    assert [t.slug for t in topics] == ["refugees"]
    kinds = {e.kind for e in topics[0].evidence}
    assert "model" in kinds and kinds & {"term", "phrase"}
    model_ev = next(e for e in topics[0].evidence if e.kind == "model")
    assert "refugee" in model_ev.value  # explained by the article's own words
    assert all(0.0 <= t.score <= 1.0 for t in default.score_all("x", "y"))


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "Back to Arkham Asylum",
            "Our podcast crew replays the classic game and its asylum levels.",
        ),
        (
            "Villagers evacuated as volcano erupts",
            "Thousands fled ash clouds; evacuation centres open.",
        ),
        ("Wildfire forces evacuations", "Residents fled their homes as flames spread."),
        ("Floods displace thousands", "Heavy rain left families homeless and evacuated."),
        (
            "Arkham Asylum: the podcast",
            "This week we revisit the asylum, the Joker and the Batman villains.",
        ),
        ("Gas leak forces evacuation", "Residents of three streets were evacuated overnight."),
        # Labelling conventions: attack news, US commemorations, "in hiding", visa deportations.
        (
            "Flags lowered for service members killed in Kabul airport bombing",
            "The 13 troops died while helping with the evacuation two years ago.",
        ),
        ("Activist stays in hiding in Kabul", "She moves between relatives' houses."),
        (
            "Tennis star deported after visa row",
            "His visa was cancelled and he was deported over vaccination rules.",
        ),
    ],
)
def test_refugees_hard_negatives(default: Classifier, title: str, text: str) -> None:
    assert "refugees" not in {t.slug for t in default.classify(title, text)}


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "AUKUS pact angers France",
            "Australia, the UK and the US agreed a submarine deal; diplomats held talks in Paris.",
        ),
        (
            "Lavrov says Ukraine talks stalled",
            "Russia's foreign minister met his counterpart for negotiations on a ceasefire.",
        ),
        (
            "Taliban order women to cover faces",
            "A new decree from the Taliban's supreme leader bans women from parks and gyms.",
        ),
        (
            "Taliban fighters seize provincial capital",
            "The offensive continued as government troops retreated.",
        ),
        (
            "Taliban ban girls from secondary schools",
            "The education ministry in Kabul said the edict applies across Afghanistan.",
        ),
        (
            "Blinken meets Chinese counterpart",
            "The talks in Beijing covered trade, Taiwan and the embassy dispute.",
        ),
        (
            "France recalls ambassadors over AUKUS",
            "Paris said the submarine deal was a stab in the back by allies.",
        ),
        # Refugees fleeing the Taliban into neighbouring countries; a warning by someone else.
        (
            "UN agency warns of Afghans crossing into Iran and Pakistan",
            "Thousands are fleeing the Taliban, the refugee agency said.",
        ),
        (
            "Afghan family describes their escape",
            "They escaped the Taliban and crossed into Pakistan, then travelled on to Turkey.",
        ),
        (
            "Refugees in Pakistan fear deportation",
            "Many fled the Taliban takeover in 2021 and now face a deadline to leave Pakistan.",
        ),
        (
            "Taliban warn shopkeepers over music",
            "The group's morality police warned traders in Kandahar that playing music is banned.",
        ),
    ],
)
def test_diplomacy_hard_negatives(default: Classifier, title: str, text: str) -> None:
    assert "taliban-diplomacy" not in {t.slug for t in default.classify(title, text)}


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "Former interpreters still waiting for relocation",
            "Afghans who worked for British forces are awaiting relocation with their families.",
        ),
        (
            "Families wait for hours at Kabul airport gates",
            "Afghans with babies hoped to board a plane out of the country.",
        ),
        ("Afghans take refuge in India", "Hundreds of Afghan families have taken refuge in Delhi."),
        (
            "Pakistan rounds up Afghans as deadline expires",
            "Police detained undocumented Afghans ahead of deportation.",
        ),
    ],
)
def test_refugees_airlift_and_relocation_positives(
    default: Classifier, title: str, text: str
) -> None:
    assert "refugees" in {t.slug for t in default.classify(title, text)}


def test_diplomacy_protecting_power(default: Classifier) -> None:
    topics = default.classify(
        "Qatar to represent US interests in Afghanistan",
        "Qatar's embassy in Kabul will act for Washington after the Taliban takeover.",
    )
    assert "taliban-diplomacy" in {t.slug for t in topics}


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("China hosts Taliban foreign minister", "Beijing held talks on trade and recognition."),
        (
            "Taliban urge Pakistan to halt deportations",
            "The Taliban's foreign ministry asked Islamabad to give Afghans more time.",
        ),
        (
            "Taliban delegation visits Tehran",
            "The acting foreign minister met Iranian officials to discuss water and trade.",
        ),
    ],
)
def test_diplomacy_positive(default: Classifier, title: str, text: str) -> None:
    assert "taliban-diplomacy" in {t.slug for t in default.classify(title, text)}


def test_seed_article_gets_both_topics_with_evidence(default: Classifier) -> None:
    if not SEED.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"seed article missing at {SEED}")
        pytest.skip(f"seed article not found at {SEED} (../shared is not mounted)")
    topics = {t.slug: t for t in default.classify("", SEED.read_text(encoding="utf-8"))}
    assert set(topics) == {"refugees", "taliban-diplomacy"}
    for score in topics.values():
        assert any(e.kind != "model" for e in score.evidence)
