"""OPML import (listparser, on bytes only, DOCTYPE neutralised) and export (xml.etree)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

import listparser

from services.core.errors import ConfigError
from services.core.models import FeedSource
from services.core.xmlguard import neutralise_doctype


def parse_opml(data: bytes, *, source: str = "OPML") -> list[FeedSource]:
    """Feeds of an OPML document: url, title → name, categories/tags → tags (http(s) only)."""
    if not isinstance(data, bytes):  # a str would make listparser fetch it as a URL
        raise TypeError("parse_opml takes bytes")
    result = listparser.parse(neutralise_doctype(data))
    if not result.feeds and (result.get("bozo") or b"<opml" not in data[:4096].lower()):
        raise ConfigError(f"{source}: not an OPML subscription list; export one from your reader")
    feeds: dict[str, FeedSource] = {}
    for item in result.feeds:
        url = str(item.get("url", "")).strip()
        if not url.lower().startswith(("http://", "https://")):
            continue
        name = str(item.get("title") or "").strip()
        feeds.setdefault(
            url, FeedSource(url=url, name=name if name and name != url else None, tags=_tags(item))
        )
    return list(feeds.values())


def _tags(item: dict[str, object]) -> tuple[str, ...]:
    tags: list[str] = [str(t) for t in item.get("tags", []) or []]  # type: ignore[attr-defined]
    for path in item.get("categories", []) or []:  # type: ignore[attr-defined]
        tags.extend(str(part) for part in path if part)
    return tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))


def to_opml(feeds: Sequence[FeedSource], *, title: str = "newswire feeds") -> bytes:
    """An OPML 2.0 document listing `feeds` (tags in the `category` attribute)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.name or feed.url, "xmlUrl": feed.url}
        if feed.name:
            attrs["title"] = feed.name
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
