"""`newswire subscribe`: read a stream and print events (json lines or a pretty view)."""

from __future__ import annotations

import json
import sys
import time

import redis
from rich.console import Console

from config.settings import Settings
from services.core.errors import EventError
from services.core.models import SCHEMA_V1, ArticleEvent
from services.runtime import redis_url_for
from services.subscriber import Delivery, StreamSubscriber


def stream_events(
    settings: Settings,
    console: Console,
    stream: str,
    *,
    group: str | None,
    consumer: str | None,
    from_start: bool,
    count: int | None,
    fmt: str,
    block_ms: int,
    idle_exit_s: float | None,
) -> int:
    """Print events until `count` were shown (or idle for `idle_exit_s`); return how many."""
    shown = 0
    with redis_url_for(settings) as url:
        client = redis.Redis.from_url(url)
        sub = StreamSubscriber(
            client, stream, group=group, consumer=consumer, from_start=from_start
        )
        last_event = time.monotonic()
        while count is None or shown < count:
            # never take more than is still wanted: unwanted entries would stay pending
            wanted = 100 if count is None else min(100, count - shown)
            deliveries = sub.read_batch(block_ms=block_ms, batch=wanted)
            idle_s = time.monotonic() - last_event
            if not deliveries and idle_exit_s is not None and idle_s > idle_exit_s:
                break
            for delivery in deliveries:
                _show(console, delivery, fmt)
                sub.ack(delivery)
                shown += 1
            if deliveries:
                last_event = time.monotonic()
        client.close()
    return shown


def _show(console: Console, delivery: Delivery, fmt: str) -> None:
    if delivery.schema != SCHEMA_V1:  # feed events, DLQ entries: shown as they are
        _show_other(console, delivery, fmt)
        return
    if fmt == "json":
        sys.stdout.write(delivery.data + "\n")
        sys.stdout.flush()
        return
    try:
        event = delivery.event()
    except EventError as exc:
        console.print(f"[yellow]skipped[/] {exc}", highlight=False)
        return
    console.print(_pretty(event, delivery), highlight=False)


def _show_other(console: Console, delivery: Delivery, fmt: str) -> None:
    if fmt == "json":
        payload = delivery.data or json.dumps(delivery.fields)
        sys.stdout.write(payload + "\n")
        sys.stdout.flush()
        return
    summary = delivery.data or json.dumps(delivery.fields)
    console.print(f"[bold]{delivery.type}[/] {delivery.entry_id} {summary[:300]}", highlight=False)


def _pretty(event: ArticleEvent, delivery: Delivery) -> str:
    topics = ", ".join(f"{t.slug} {t.score:.2f}" for t in event.topics) or "-"
    when = event.published_at.isoformat() if event.published_at else "?"
    return (
        f"[bold]{event.title}[/]\n  {delivery.type} · {delivery.entry_id} · {when}\n"
        f"  topics: {topics}\n  {event.url}"
    )
