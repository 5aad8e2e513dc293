"""Load the declarative feed list (config/feeds.yaml): `feeds:` → [{url, name?, tags?}]."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from services.core.errors import ConfigError
from services.core.models import FeedSource


def load_feeds(path: Path) -> list[FeedSource]:
    """Parse and validate a feeds file; errors name the file and the entry."""
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read feeds file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("feeds"), list):
        raise ConfigError(f"{path}: expected a mapping with a top-level 'feeds:' list")
    feeds: dict[str, FeedSource] = {}
    for index, entry in enumerate(document["feeds"]):
        feed = _feed(path, index, entry)
        feeds.setdefault(feed.url, feed)  # a URL listed twice is polled once
    return list(feeds.values())


def _feed(path: Path, index: int, entry: object) -> FeedSource:
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: feeds[{index}] must be a mapping with 'url'")
    if isinstance(entry.get("tags"), list):
        entry = {**entry, "tags": tuple(str(t) for t in entry["tags"])}
    try:
        feed = FeedSource.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: feeds[{index}].{field}: {first['msg']}") from None
    if not feed.url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"{path}: feeds[{index}].url must be an http(s) URL, got {feed.url!r}")
    return feed
