"""`newswire dedupe check`: JSONL pairs in, the workers' near-duplicate decision out.

Input lines: ``{"a": item, "b": item}``, item = ``{"title", "description"|"summary"|"content",
"link"?, "published_at"?}``. Output lines: ``{"duplicate": bool, "score": float, "method": str}``.
The decision is :func:`services.core.dedupe.compare`, i.e. ``decide`` on the two signatures the
workers compute (same canonical URL and content-hash layers included).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from services.core.dedupe import DedupeItem, compare

_TEXT_FIELDS = ("description", "summary", "content")


def dedupe_check_lines(lines: Iterable[str]) -> Iterator[str]:
    """One JSON decision per non-blank input line; ValueError names the bad line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            a, b = _pair(json.loads(line))
        except (ValueError, ValidationError) as exc:
            raise ValueError(f"line {number}: {_reason(exc)}") from exc
        decision = compare(a, b)
        yield json.dumps(
            {"duplicate": decision.duplicate, "score": decision.score, "method": decision.method}
        )


def _pair(obj: Any) -> tuple[DedupeItem, DedupeItem]:
    if not isinstance(obj, dict) or "a" not in obj or "b" not in obj:
        raise ValueError('expected an object {"a": item, "b": item}')
    return _item(obj["a"], "a"), _item(obj["b"], "b")


def _item(obj: Any, side: str) -> DedupeItem:
    if not isinstance(obj, dict) or not isinstance(obj.get("title"), str):
        raise ValueError(f'"{side}" must be an object with a string "title"')
    text = next((obj[f] for f in _TEXT_FIELDS if isinstance(obj.get(f), str)), "")
    return DedupeItem(
        title=obj["title"], text=text, link=obj.get("link"), published_at=obj.get("published_at")
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"invalid {where}: {first['msg']}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg})"
    return str(exc)
