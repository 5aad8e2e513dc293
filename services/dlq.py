"""The dead-letter stream: batches or articles workers could not process, listed and replayed.

Workers append ``batch.failed`` entries (error, JSON payload of article dicts, time) to
``<prefix>:dlq``. Replaying sends an entry's articles back through the normal task and removes
the entry once the task is queued; the pipeline is idempotent (identity keys), so an article
that did get published before the failure is answered as a replay, never published twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from services.adapters.keys import Keys

Send = Callable[[list[dict[str, Any]]], None]


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    kind: str
    error: str
    at: str
    articles: list[dict[str, Any]] | None  # None: the payload cannot be replayed
    problem: str = ""  # why the payload cannot be replayed

    def as_dict(self) -> dict[str, Any]:
        size = len(self.articles) if self.articles is not None else None
        return {"id": self.entry_id, "type": self.kind, "error": self.error, "at": self.at,
                "articles": size, "replayable": self.articles is not None,
                "problem": self.problem}  # fmt: skip


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    articles: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # entry id -> why not replayed


def _text(fields: dict[bytes, bytes], name: str) -> str:
    return fields.get(name.encode(), b"").decode("utf-8", "replace")


def parse_entry(entry_id: str, fields: dict[bytes, bytes]) -> DeadLetter:
    """One stream entry; a payload that is not a JSON list of objects is kept, not replayable."""
    meta = (entry_id, _text(fields, "type"), _text(fields, "error"), _text(fields, "at"))
    try:
        payload = json.loads(_text(fields, "payload"))
    except json.JSONDecodeError as exc:
        return DeadLetter(*meta, articles=None, problem=f"payload is not JSON ({exc.msg})")
    if not isinstance(payload, list) or not all(isinstance(a, dict) for a in payload):
        return DeadLetter(*meta, articles=None, problem="payload is not a list of articles")
    return DeadLetter(*meta, articles=payload)


def read(client: redis.Redis, keys: Keys, count: int = 100) -> list[DeadLetter]:
    """The oldest ``count`` entries of the DLQ."""
    entries = client.xrange(keys.dlq, count=count)
    return [parse_entry(eid.decode(), fields) for eid, fields in entries]


def replay(
    client: redis.Redis, keys: Keys, letters: Iterable[DeadLetter], send: Send
) -> ReplayReport:
    """Queue each replayable entry's articles again, then delete the entry (in that order: a
    crash in between replays it twice, which the pipeline absorbs, and never loses it)."""
    report = ReplayReport()
    for letter in letters:
        if letter.articles is None:
            report.skipped[letter.entry_id] = letter.problem
            continue
        send(letter.articles)
        client.xdel(keys.dlq, letter.entry_id)
        report.replayed.append(letter.entry_id)
        report.articles += len(letter.articles)
    return report
