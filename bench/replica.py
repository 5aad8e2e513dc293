"""Another poller replica for the bench's warm-replicas phase, in its own process.

`python bench/replica.py REDIS_URL URLS_FILE`: builds the service's poller (the bench's
settings) for the feeds in URLS_FILE, prints "ready", then for every line read from stdin
polls all of them once and prints one JSON line {"elapsed_s", "statuses"}. Exits at EOF.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import redis  # noqa: E402
from stack import bench_settings, log_to  # noqa: E402

from services.core.models import FeedSource  # noqa: E402
from services.runner import build_poller  # noqa: E402
from services.runtime import run_event_loop  # noqa: E402


async def serve(redis_url: str, urls: list[str]) -> None:
    poller = build_poller(bench_settings(redis_url), redis.Redis.from_url(redis_url), once=True)
    feeds = [FeedSource(url=u) for u in urls]
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    while await loop.run_in_executor(None, sys.stdin.readline):
        started = time.perf_counter()
        outcomes = await poller.poll_all(feeds)
        elapsed = time.perf_counter() - started
        statuses = Counter(o.status for o in outcomes)
        print(json.dumps({"elapsed_s": elapsed, "statuses": statuses}), flush=True)
    await poller.fetcher.aclose()  # type: ignore[attr-defined]


if __name__ == "__main__":
    log_to(Path(__file__).resolve().parent / "results" / "logs" / "replica.log")  # not stdout
    run_event_loop(serve(sys.argv[1], Path(sys.argv[2]).read_text("utf-8").split()))
