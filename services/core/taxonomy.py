"""Topic taxonomy: the typed, validated content of `config/topics.yaml`.

A topic has weighted rules (terms and phrases, regexes, AND-groups, NEAR/n proximity,
exclusions, title vs body weights), a threshold on the calibrated score, example texts
the learned model is trained from, and `maps_to` codes (GDELT themes, IPTC media topics).

Term syntax: case-insensitive words matched on word boundaries; a space matches any run
of whitespace or hyphens; a trailing `*` matches any word ending ("refugee*").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.core.errors import ConfigError

DEFAULT_TAXONOMY_PATH = Path(__file__).resolve().parents[2] / "config" / "topics.yaml"
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TERM_RE = re.compile(r"^[\w'’.&]+(?:[ -][\w'’.&]+)*\*?$")

FieldName = Literal["title", "body", "both"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_terms(terms: tuple[str, ...]) -> tuple[str, ...]:
    for term in terms:
        if not _TERM_RE.match(term.strip()):
            raise ValueError(f"bad term {term!r}: use words, spaces, hyphens and a final '*'")
    return terms


class WeightedTerm(_Strict):
    """A term or phrase (several words) with a weight; `field` limits where it counts."""

    term: str
    weight: float = Field(ge=-20.0, le=20.0)
    field: FieldName = "both"

    @field_validator("term")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _check_terms((value,))[0]


class RegexRule(_Strict):
    """A raw regular expression (compiled case-insensitively)."""

    pattern: str
    weight: float = Field(ge=-20.0, le=20.0)
    field: FieldName = "both"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value


class AndGroup(_Strict):
    """Adds `weight` when every one of `all_of` (each a list of alternatives) matches."""

    name: str
    all_of: tuple[tuple[str, ...], ...] = Field(min_length=2)
    weight: float = Field(ge=-20.0, le=20.0)

    @field_validator("all_of")
    @classmethod
    def _valid(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for alternatives in value:
            if not alternatives:
                raise ValueError("every AND member needs at least one term")
            _check_terms(alternatives)
        return value


class NearRule(_Strict):
    """Adds `weight` when a term of `a` occurs within `n` words of a term of `b`."""

    name: str
    a: tuple[str, ...] = Field(min_length=1)
    b: tuple[str, ...] = Field(min_length=1)
    n: int = Field(ge=1, le=50)
    weight: float = Field(ge=-20.0, le=20.0)

    @field_validator("a", "b")
    @classmethod
    def _valid(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_terms(value)


class Exclusion(_Strict):
    """A term that vetoes the topic (`veto: true`) or subtracts `weight`."""

    term: str
    weight: float = Field(default=0.0, ge=0.0, le=20.0)
    veto: bool = False
    field: FieldName = "both"

    @field_validator("term")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _check_terms((value,))[0]


class Rules(_Strict):
    """The rule part of a topic. `require_any`: without one of these, rule score is 0."""

    title_weight: float = Field(default=1.5, ge=0.0, le=10.0)
    body_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    require_any: tuple[str, ...] = ()
    terms: tuple[WeightedTerm, ...] = ()
    regex: tuple[RegexRule, ...] = ()
    and_groups: tuple[AndGroup, ...] = ()
    near: tuple[NearRule, ...] = ()
    exclude: tuple[Exclusion, ...] = ()

    @field_validator("require_any")
    @classmethod
    def _valid(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_terms(value)


class Calibration(_Strict):
    """score = sigmoid((rule + model_weight * model_logit - bias) / temperature)."""

    bias: float = 3.0
    temperature: float = Field(default=1.0, gt=0.0)
    model_weight: float = Field(default=1.0, ge=0.0, le=10.0)


class Examples(_Strict):
    positive: tuple[str, ...] = Field(min_length=3)
    negative: tuple[str, ...] = Field(min_length=3)


class MapsTo(_Strict):
    gdelt: tuple[str, ...] = ()
    iptc: tuple[str, ...] = ()
    cameo: tuple[str, ...] = ()


class TopicDef(_Strict):
    """One topic of the taxonomy."""

    slug: str
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    rules: Rules
    threshold: float = Field(ge=0.0, le=1.0)
    calibration: Calibration = Calibration()
    examples: Examples
    maps_to: MapsTo = MapsTo()

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG_RE.match(value):
            raise ValueError(f"slug {value!r} must be lower-case words joined by '-'")
        return value


class Taxonomy(_Strict):
    """All topics, in file order."""

    topics: tuple[TopicDef, ...]

    def get(self, slug: str) -> TopicDef:
        """Return the topic with this slug (KeyError when absent)."""
        for topic in self.topics:
            if topic.slug == slug:
                return topic
        raise KeyError(slug)


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in loc).replace(
        ".[", "["
    )


def _topic_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("slug"), str):
        return f"topic {raw['slug']!r}"
    return f"topic #{index}"


def _parse_topic(path: Path, raw: Any, index: int) -> TopicDef:
    label = _topic_label(raw, index)
    try:
        return TopicDef.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _location(err["loc"]) or "(topic)"
        raise ConfigError(f"{path}: {label}: field {field}: {err['msg']}") from exc


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read topics file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from exc


def load_taxonomy(path: Path) -> Taxonomy:
    """Load and validate a topics file; errors name the file, the topic and the field."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise ConfigError(f"{path}: top level must be a mapping with a 'topics' list")
    if not data["topics"]:
        raise ConfigError(f"{path}: 'topics' is empty; define at least one topic")
    topics = tuple(_parse_topic(path, raw, i) for i, raw in enumerate(data["topics"]))
    seen: set[str] = set()
    for topic in topics:
        if topic.slug in seen:
            raise ConfigError(f"{path}: topic {topic.slug!r}: field slug: duplicate slug")
        seen.add(topic.slug)
    return Taxonomy(topics=topics)
