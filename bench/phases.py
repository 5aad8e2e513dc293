"""The measured phases: cold ingest, warm round, steady-rate latency, memory, baselines."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import feedparser
import redis

from services.adapters.keys import Keys
from services.core import feedparser_speedups
from services.core.models import FeedSource
from services.poller.loop import Poller

Progress = Callable[[int], None]


@dataclass
class IngestResult:
    feeds: int
    feeds_ok: int
    feeds_failed: int
    feed_entries: int
    enqueued: int
    published: int
    duplicates: int
    elapsed_s: float
    poll_s: float
    entries_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


OUTCOMES = ("published", "duplicates", "near_duplicates", "updated", "replayed")


def _events(client: redis.Redis, keys: Keys) -> int:
    return sum(int(client.xlen(k)) for k in (keys.articles, keys.duplicates))


async def _monitor(
    client: redis.Redis, keys: Keys, progress: Progress, stop: asyncio.Event
) -> None:
    base = _events(client, keys)
    while not stop.is_set():
        progress(_events(client, keys) - base)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def _done_at(handle: Any) -> float:
    when = handle.date_done
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    if when is None:
        return time.time()
    return float((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


async def _collect(poller: Poller, timeout_s: float) -> tuple[list[dict[str, Any]], float]:
    """Wait for every enqueued batch; returns the reports and when the last one finished."""
    handles, poller.handles = list(poller.handles), []
    reports: list[dict[str, Any]] = []
    if handles:  # one MGET per round for every batch, not one `get` (and pubsub) each
        from services.runner import _join

        reports = await asyncio.to_thread(partial(_join, handles, timeout_s))
    last = max((_done_at(h) for h in handles), default=time.time())
    return reports, last


def _last_xadd(client: redis.Redis, keys: Keys) -> float:
    last = 0.0
    for stream in (keys.articles, keys.duplicates):
        newest = client.xrevrange(stream, count=1)
        if newest:
            last = max(last, int(newest[0][0].split(b"-")[0]) / 1000)
    return last


async def cold_ingest(
    poller: Poller,
    feeds: Sequence[FeedSource],
    client: redis.Redis,
    keys: Keys,
    progress: Progress,
    timeout_s: float = 600,
) -> IngestResult:
    """Every feed polled once (cold) until the worker has published every batch."""
    poller.store.ensure_scheduled((f.id for f in feeds), 0)
    stop = asyncio.Event()
    monitor = asyncio.create_task(_monitor(client, keys, progress, stop))
    started = time.time()
    outcomes = await poller.poll_all(feeds)
    polled = time.time()
    reports, finished = await _collect(poller, timeout_s)
    finished = max(finished, _last_xadd(client, keys))
    stop.set()
    await monitor
    published = sum(int(r.get("published", 0)) for r in reports)
    duplicates = sum(int(r.get(k, 0)) for r in reports for k in OUTCOMES[1:])
    elapsed = finished - started
    return IngestResult(
        feeds=len(feeds),
        feeds_ok=sum(o.status == "ok" for o in outcomes),
        feeds_failed=sum(o.status == "failed" for o in outcomes),
        feed_entries=sum(o.entries for o in outcomes),
        enqueued=sum(o.new for o in outcomes),
        published=published,
        duplicates=duplicates,
        elapsed_s=elapsed,
        poll_s=polled - started,
        entries_per_s=(published + duplicates) / elapsed,
    )


async def warm_rounds(
    poller: Poller, feeds: Sequence[FeedSource], rounds: int = 3
) -> dict[str, Any]:
    """Poll every (already fetched) feed again, `rounds` times: each answers 304 or an
    unchanged body. polls/s is the median round (one round of 2,000 polls lasts ~2 s, so
    a single one is at the mercy of a scheduler hiccup); every round is recorded."""
    rates, statuses = [], Counter[str]()
    for _ in range(rounds):
        started = time.perf_counter()
        outcomes = await poller.poll_all(feeds)
        rates.append(len(feeds) / (time.perf_counter() - started))
        statuses.update(o.status for o in outcomes)
        poller.handles.clear()
    return {
        "feeds": len(feeds),
        "rounds": rounds,
        "polls_per_s": statistics.median(rates),
        "rounds_polls_per_s": rates,
        "statuses": dict(statuses),
    }


async def warm_rounds_two_replicas(
    poller: Poller, feeds: Sequence[FeedSource], redis_url: str, work: Path, rounds: int = 3
) -> dict[str, Any]:
    """The warm rounds with a second poller replica (bench/replica.py, its own process) taking
    half the feeds: a round lasts until both are done. polls/s is the median round."""
    half = len(feeds) // 2
    urls_file = work / "replica-urls.txt"
    urls_file.write_text("\n".join(f.url for f in feeds[half:]), "utf-8")
    script = Path(__file__).resolve().parent / "replica.py"
    replica = await asyncio.create_subprocess_exec(
        sys.executable, str(script), redis_url, str(urls_file),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert replica.stdin is not None and replica.stdout is not None
    if (await replica.stdout.readline()).strip() != b"ready":
        raise RuntimeError("the bench's second poller replica did not start")
    rates, statuses, seconds = [], Counter[str](), []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            replica.stdin.write(b"go\n")
            outcomes = await poller.poll_all(feeds[:half])
            local = time.perf_counter() - started
            report = json.loads(await replica.stdout.readline())
            rates.append(len(feeds) / max(local, report["elapsed_s"]))
            seconds.append((local, report["elapsed_s"]))
            statuses.update(o.status for o in outcomes)
            statuses.update(report["statuses"])
            poller.handles.clear()
    finally:
        replica.stdin.close()
        await replica.wait()
    return {"feeds": len(feeds), "replicas": 2, "rounds": rounds,
            "polls_per_s": statistics.median(rates), "rounds_polls_per_s": rates,
            "rounds_seconds_each": seconds, "statuses": dict(statuses)}  # fmt: skip


async def steady_latency(
    poller: Poller,
    feeds: Sequence[FeedSource],
    feeds_per_s: float,
    client: redis.Redis,
    keys: Keys,
    progress: Progress,
) -> dict[str, Any]:
    """Poll feeds at a fixed rate; latency = stream entry id time − the event's `fetched_at`."""
    after = {}
    for stream in (keys.articles, keys.duplicates):
        newest = client.xrevrange(stream, count=1)
        after[stream] = newest[0][0].decode() if newest else "0-0"
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    for i, feed in enumerate(feeds):
        await asyncio.sleep(max(0.0, started + i / feeds_per_s - loop.time()))
        tasks.append(asyncio.create_task(poller.poll_feed(feed)))
        progress(i + 1)
    await asyncio.gather(*tasks)
    arrival_s = loop.time() - started
    await _collect(poller, 120)
    latencies = []
    for stream, last in after.items():
        for entry_id, fields in client.xrange(stream, min=f"({last}"):
            data = json.loads(fields[b"data"])
            fetched = datetime.fromisoformat(data["fetched_at"]).timestamp()
            latencies.append(int(entry_id.split(b"-")[0]) / 1000 - fetched)
    latencies.sort()
    return {
        "feeds": len(feeds),
        "feeds_per_s": feeds_per_s,
        "articles": len(latencies),
        "articles_per_s": len(latencies) / arrival_s if arrival_s else 0.0,
        "duration_s": arrival_s,
        "p50_s": _quantile(latencies, 0.50),
        "p90_s": _quantile(latencies, 0.90),
        "p99_s": _quantile(latencies, 0.99),
        "max_s": latencies[-1] if latencies else None,
    }


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _dedupe_prefixes(keys: Keys) -> tuple[bytes, ...]:
    """Key prefixes of the dedupe window: identity keys, near-duplicate LSH buckets, signatures."""
    found = [keys.identity("x").rsplit(":", 1)[0] + ":"]
    found += [str(getattr(keys, name)) for name in ("lsh_root", "sig_root") if hasattr(keys, name)]
    return tuple(p.encode() for p in found)


def redis_memory(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """MEMORY USAGE (exact, samples=0) summed per kind: dedupe-window keys, streams, the rest."""
    dedupe = _dedupe_prefixes(keys)
    totals = Counter[str]()
    names = list(client.scan_iter(match=f"{keys.prefix}:*", count=5000))
    for start in range(0, len(names), 1000):
        chunk = names[start : start + 1000]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.memory_usage(key, samples=0)
            pipe.type(key)
        replies = pipe.execute()
        for key, size, kind in zip(chunk, replies[::2], replies[1::2], strict=True):
            group = (
                "stream" if kind == b"stream" else "dedupe" if key.startswith(dedupe) else "other"
            )
            totals[f"{group}_bytes"] += int(size or 0)
            totals[f"{group}_keys"] += 1
    return dict(totals)


def feedparser_loop(bodies: Sequence[bytes], progress: Progress) -> dict[str, Any]:
    """The bare baseline: stock `feedparser.parse(io.BytesIO(body))` over every document, one
    core."""
    entries = 0
    started = time.perf_counter()
    with feedparser_speedups.stock():
        for i, body in enumerate(bodies):
            entries += len(feedparser.parse(io.BytesIO(body)).entries)
            if i % 20 == 0:
                progress(i + 1)
    elapsed = time.perf_counter() - started
    progress(len(bodies))
    return {"documents": len(bodies), "entries": entries, "elapsed_s": elapsed,
            "entries_per_s": entries / elapsed}  # fmt: skip


def reader_update(python: Path, urls: Sequence[str], work: Path, workers: int) -> dict[str, Any]:
    """The `reader` library (in bench/.venv) updating the same feeds, cold, in a subprocess."""
    urls_file = work / "reader-urls.txt"
    urls_file.write_text("\n".join(urls), "utf-8")
    db = work / "reader.sqlite"
    script = Path(__file__).resolve().parent / "reader_run.py"
    done = subprocess.run(
        [str(python), str(script), str(urls_file), str(db), str(workers)],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"reader run failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
