"""Taxonomy loading and validation: errors name the file, the topic and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.errors import ConfigError
from services.core.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy

EXAMPLES = """
    examples:
      positive: ["a b c", "d e f", "g h i"]
      negative: ["j k l", "m n o", "p q r"]
"""


def _topic(
    slug: str = "demo", rules: str = "terms: [{term: refugee*, weight: 2}]", **kw: str
) -> str:
    threshold = kw.get("threshold", "0.5")
    return f"""
  - slug: {slug}
    name: Demo
    description: A demo topic.
    threshold: {threshold}
    rules:
      {rules}
{EXAMPLES}"""


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text("topics:" + body, encoding="utf-8")
    return path


def test_default_taxonomy_ships_both_customer_topics() -> None:
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY_PATH)
    slugs = [t.slug for t in taxonomy.topics]
    assert slugs[:2] == ["refugees", "taliban-diplomacy"]
    assert "REFUGEES" in taxonomy.get("refugees").maps_to.gdelt
    assert "TAX_TERROR_GROUP_TALIBAN" in taxonomy.get("taliban-diplomacy").maps_to.gdelt
    assert "NEGOTIATIONS" in taxonomy.get("taliban-diplomacy").maps_to.gdelt


def test_valid_minimal_file_loads(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(_write(tmp_path, _topic()))
    assert taxonomy.topics[0].rules.terms[0].term == "refugee*"


def test_threshold_out_of_range_names_file_topic_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, _topic(threshold="1.7"))
    with pytest.raises(ConfigError) as info:
        load_taxonomy(path)
    msg = str(info.value)
    assert str(path) in msg and "topic 'demo'" in msg and "field threshold" in msg


def test_bad_regex_names_nested_field(tmp_path: Path) -> None:
    rules = "regex: [{pattern: '(unclosed', weight: 1}]"
    with pytest.raises(ConfigError, match=r"topic 'demo': field rules\.regex\[0\]\.pattern"):
        load_taxonomy(_write(tmp_path, _topic(rules=rules)))


def test_near_distance_must_be_positive(tmp_path: Path) -> None:
    rules = "near: [{name: x, a: [taliban], b: [talks], n: 0, weight: 1}]"
    with pytest.raises(ConfigError, match=r"field rules\.near\[0\]\.n"):
        load_taxonomy(_write(tmp_path, _topic(rules=rules)))


def test_and_group_needs_two_members(tmp_path: Path) -> None:
    rules = "and_groups: [{name: x, all_of: [[taliban]], weight: 1}]"
    with pytest.raises(ConfigError, match=r"field rules\.and_groups\[0\]\.all_of"):
        load_taxonomy(_write(tmp_path, _topic(rules=rules)))


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    rules = "terms: [{term: refugee, weight: 1, wieght: 2}]"
    with pytest.raises(ConfigError, match=r"field rules\.terms\[0\]\.wieght"):
        load_taxonomy(_write(tmp_path, _topic(rules=rules)))


def test_bad_slug_and_duplicate_slug(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="field slug"):
        load_taxonomy(_write(tmp_path, _topic(slug="Bad Slug")))
    with pytest.raises(ConfigError, match="topic 'demo': field slug: duplicate"):
        load_taxonomy(_write(tmp_path, _topic() + _topic()))


def test_missing_examples_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("topics:\n  - slug: x\n    name: X\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="topic 'x': field description"):
        load_taxonomy(path)
    path.write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_taxonomy(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(tmp_path / "absent.yaml")
