"""`newswire dlq list|replay`: look at and replay what workers dead-lettered."""

from __future__ import annotations

import json
from typing import Any

import redis
from rich.console import Console
from rich.table import Table

from config.settings import Settings
from services import dlq
from services.adapters.keys import Keys
from services.runtime import redis_url_for


def list_dead_letters(settings: Settings, console: Console, *, count: int, as_json: bool) -> int:
    """Print the oldest ``count`` DLQ entries; returns how many there are in all."""
    with redis_url_for(settings) as url:
        client = redis.Redis.from_url(url)
        try:
            keys = Keys(settings.stream_prefix)
            letters, total = dlq.read(client, keys, count), int(client.xlen(keys.dlq))
        finally:
            client.close()
    if as_json:
        print(json.dumps([letter.as_dict() for letter in letters]))
        return total
    table = Table(title=f"dead letters: {total} (oldest first)")
    for col in ("id", "at", "articles", "error"):
        table.add_column(col, overflow="fold")
    for letter in letters:
        size = str(len(letter.articles)) if letter.articles is not None else letter.problem
        table.add_row(letter.entry_id, letter.at, size, letter.error[:200])
    console.print(table)
    return total


def replay_dead_letters(settings: Settings, ids: list[str], *, count: int) -> dlq.ReplayReport:
    """Queue the given entries (or the oldest ``count``) for the workers again."""
    from workers.celery_app import configure
    from workers.tasks import process_batch

    with redis_url_for(settings) as url:
        configure(settings, url)
        client = redis.Redis.from_url(url)

        def send(articles: list[dict[str, Any]]) -> None:
            process_batch.apply_async(args=(articles,), ignore_result=True)

        try:
            keys = Keys(settings.stream_prefix)
            letters = _by_id(client, keys, ids) if ids else dlq.read(client, keys, count)
            return dlq.replay(client, keys, letters, send)
        finally:
            client.close()


def _by_id(client: redis.Redis, keys: Keys, ids: list[str]) -> list[dlq.DeadLetter]:
    """The named entries; a missing one raises KeyError before anything is replayed."""
    found = []
    for entry_id in dict.fromkeys(ids):
        entries = client.xrange(keys.dlq, min=entry_id, max=entry_id)
        if not entries:
            raise KeyError(entry_id)
        found.append(dlq.parse_entry(entry_id, entries[0][1]))
    return found
