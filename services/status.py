"""`newswire status`: feeds, streams, consumer groups, DLQ and workers, read from Redis.

`collect_status` builds a pydantic `StatusReport` (``--json`` prints
``report.model_dump_json()``); `render_status` prints it as rich tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import redis
from celery import Celery
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from services.adapters.feedstate import FeedState
from services.adapters.keys import Keys
from services.core.models import FeedSource
from services.registry import EVENTS_MAXLEN as FEED_EVENTS_MAXLEN

FeedHealth = Literal["new", "ok", "failing", "degraded", "retired"]
LAG_COUNT_CAP = 100_000


class FeedStatus(BaseModel):
    id: str
    url: str
    name: str | None = None
    status: FeedHealth
    last_success_at: datetime | None = None
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    next_poll_reason: str = ""
    consecutive_errors: int = 0
    last_error_class: str = ""
    last_error: str = ""


class ConsumerStatus(BaseModel):
    name: str
    pending: int
    idle_ms: int


class GroupStatus(BaseModel):
    name: str
    lag: int | None = None
    lag_source: Literal["redis", "computed", "unknown"] = "redis"
    pending: int
    last_delivered_id: str
    consumers: list[ConsumerStatus] = []


class StreamStatus(BaseModel):
    key: str
    length: int = 0
    first_id: str | None = None
    last_id: str | None = None
    retention_maxlen: int | None = None
    groups: list[GroupStatus] = []


class WorkerStatus(BaseModel):
    name: str
    active: int = 0
    processed: int = 0
    pool_processes: int | None = None


class Retention(BaseModel):
    """MAXLEN settings (from Settings.streams) reported next to each stream."""

    articles: int | None = None
    topic: int | None = None
    other: int | None = None


class StatusReport(BaseModel):
    generated_at: datetime
    redis_version: str
    feeds: list[FeedStatus]
    streams: list[StreamStatus]
    dlq_size: int
    workers: list[WorkerStatus] | None = None
    workers_error: str | None = None


# --- Redis readers (also used by services.metrics and the dashboard) -----------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ts(value: float) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value > 0 else None


def discover_topics(client: redis.Redis, keys: Keys) -> list[str]:
    """Topic slugs that have a stream (SCAN; use sparingly on very large keyspaces)."""
    prefix = keys.topic("")
    found = client.scan_iter(match=f"{prefix}*", count=1000, _type="STREAM")
    return sorted(_text(k)[len(prefix) :] for k in found)


def feed_states(
    client: redis.Redis, keys: Keys, ids: Sequence[str] | None = None
) -> dict[str, FeedState]:
    """Feed state hashes by id; `ids` None means every scheduled feed."""
    if ids is None:
        ids = [_text(i) for i in client.zrange(keys.schedule, 0, -1)]
    pipe = client.pipeline(transaction=False)
    for feed_id in ids:
        pipe.hgetall(keys.feed_state(feed_id))
    return {i: FeedState.from_redis(raw) for i, raw in zip(ids, pipe.execute(), strict=True)}


def _computed_lag(client: redis.Redis, key: str, last_delivered: str, length: int) -> int:
    if last_delivered in ("0-0", "0"):
        return length
    return len(client.xrange(key, min=f"({last_delivered}", max="+", count=LAG_COUNT_CAP) or [])


def _group(client: redis.Redis, key: str, raw: Mapping[str, Any], length: int) -> GroupStatus:
    name = _text(raw["name"])
    last = _text(raw["last-delivered-id"])
    lag, source = raw.get("lag"), "redis"
    if lag is None:  # Redis < 7, or lag undeterminable after trimming/deletion
        lag, source = _computed_lag(client, key, last, length), "computed"
    consumers = [
        ConsumerStatus(name=_text(c["name"]), pending=int(c["pending"]), idle_ms=int(c["idle"]))
        for c in client.xinfo_consumers(key, name)
    ]
    return GroupStatus(
        name=name,
        lag=int(lag),
        lag_source=source,
        pending=int(raw["pending"]),
        last_delivered_id=last,
        consumers=consumers,
    )


def stream_status(client: redis.Redis, key: str, maxlen: int | None = None) -> StreamStatus:
    """Length, first/last id and consumer groups of one stream (empty when missing)."""
    if _text(client.type(key)) != "stream":
        return StreamStatus(key=key, retention_maxlen=maxlen)
    info = client.xinfo_stream(key)
    first, last = info.get("first-entry"), info.get("last-entry")
    length = int(info["length"])
    return StreamStatus(
        key=key,
        length=length,
        first_id=_text(first[0]) if first else None,
        last_id=_text(last[0]) if last else None,
        retention_maxlen=maxlen,
        groups=[_group(client, key, g, length) for g in client.xinfo_groups(key)],
    )


def _feed_status(feed: FeedSource, state: FeedState) -> FeedStatus:
    known: tuple[str, ...] = ("new", "ok", "failing", "degraded", "retired")
    health = state.status if state.status in known else "failing"
    return FeedStatus(
        id=feed.id,
        url=feed.url,
        name=feed.name or state.title or None,
        status=health,
        last_success_at=_ts(state.last_success_at),
        last_polled_at=_ts(state.last_polled_at),
        next_poll_at=_ts(state.next_poll_at),
        next_poll_reason=state.next_poll_reason,
        consecutive_errors=state.consecutive_errors,
        last_error_class=state.last_error_class,
        last_error=state.last_error[:200],
    )


def _workers(celery_app: Celery, timeout_s: float) -> list[WorkerStatus]:
    inspect = celery_app.control.inspect(timeout=timeout_s)
    stats = inspect.stats() or {}
    active = inspect.active() or {} if stats else {}
    workers = []
    for name, info in sorted(stats.items()):
        pool = info.get("pool") or {}
        workers.append(
            WorkerStatus(
                name=name,
                active=len(active.get(name) or []),
                processed=sum(int(v) for v in (info.get("total") or {}).values()),
                pool_processes=pool.get("max-concurrency"),
            )
        )
    return workers


def collect_status(
    client: redis.Redis,
    keys: Keys,
    celery_app: Celery | None,
    feeds: list[FeedSource],
    *,
    retention: Retention | None = None,
    topics: Sequence[str] | None = None,
    inspect_timeout_s: float = 1.0,
) -> StatusReport:
    """Everything `newswire status` shows; `topics` None discovers topic streams."""
    keep = retention or Retention()
    states = feed_states(client, keys, [f.id for f in feeds])
    slugs = discover_topics(client, keys) if topics is None else list(topics)
    plan = [(keys.articles, keep.articles), (keys.duplicates, keep.articles)]
    plan += [(keys.feeds_stream, FEED_EVENTS_MAXLEN), (keys.dlq, keep.other)]
    plan += [(keys.topic(s), keep.topic) for s in slugs]
    streams = [stream_status(client, key, maxlen) for key, maxlen in plan]
    report = StatusReport(
        generated_at=datetime.now(UTC),
        redis_version=_text(client.info("server").get("redis_version", "?")),
        feeds=[_feed_status(f, states[f.id]) for f in feeds],
        streams=streams,
        dlq_size=next(s.length for s in streams if s.key == keys.dlq),
    )
    if celery_app is not None:
        try:
            report.workers = _workers(celery_app, inspect_timeout_s)
        except Exception as exc:
            report.workers_error = f"{type(exc).__name__}: {exc}"[:300]
    return report


# --- rendering -------------------------------------------------------------------------

_STYLE = {"ok": "green", "new": "cyan", "failing": "yellow", "degraded": "red", "retired": "dim"}


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    delta = (value - datetime.now(UTC)).total_seconds()
    span = f"{abs(delta):.0f}s" if abs(delta) < 120 else f"{abs(delta) / 60:.0f}m"
    return f"in {span}" if delta > 0 else f"{span} ago"


def _feeds_table(report: StatusReport) -> Table:
    table = Table(title=f"Feeds ({len(report.feeds)})")
    for column in ("feed", "status", "last success", "next poll", "reason", "errors"):
        table.add_column(column)
    for f in report.feeds:
        style = _STYLE.get(f.status, "")
        table.add_row(
            f.name or f.url, f"[{style}]{f.status}[/]", _when(f.last_success_at),
            _when(f.next_poll_at), f.next_poll_reason, str(f.consecutive_errors) + (
                f" ({f.last_error_class})" if f.last_error_class and f.consecutive_errors else ""
            ),
        )  # fmt: skip
    return table


def _streams_table(report: StatusReport) -> Table:
    table = Table(title="Streams")
    for column in ("stream", "length", "first id", "last id", "retention"):
        table.add_column(column, justify="right" if column == "length" else "left")
    for s in report.streams:
        keep = f"MAXLEN ~{s.retention_maxlen:,}" if s.retention_maxlen else "—"
        table.add_row(s.key, f"{s.length:,}", s.first_id or "—", s.last_id or "—", keep)
    return table


def _groups_table(report: StatusReport) -> Table:
    table = Table(title="Consumer groups")
    for column in ("stream", "group", "lag", "pending", "consumers (idle)"):
        table.add_column(column)
    for s in report.streams:
        for g in s.groups:
            consumers = ", ".join(f"{c.name} ({c.idle_ms / 1000:.0f}s)" for c in g.consumers)
            lag = "?" if g.lag is None else str(g.lag)
            table.add_row(s.key, g.name, lag, str(g.pending), consumers or "—")
    return table


def _workers_table(report: StatusReport) -> Table:
    table = Table(title="Workers")
    for column in ("worker", "active", "processed", "pool"):
        table.add_column(column)
    for w in report.workers or []:
        table.add_row(w.name, str(w.active), str(w.processed), str(w.pool_processes or "—"))
    return table


def render_status(report: StatusReport, console: Console) -> None:
    """Print the report as rich tables."""
    console.print(_feeds_table(report))
    console.print(_streams_table(report))
    if any(s.groups for s in report.streams):
        console.print(_groups_table(report))
    else:
        console.print("Consumer groups: none")
    dlq_style = "red" if report.dlq_size else "green"
    console.print(f"DLQ: [{dlq_style}]{report.dlq_size}[/] entries")
    if report.workers_error:
        console.print(f"Workers: [red]unavailable[/] ({report.workers_error})", highlight=False)
    elif report.workers is None:
        console.print("Workers: not inspected")
    elif not report.workers:
        console.print("Workers: [yellow]none online[/]")
    else:
        console.print(_workers_table(report))
