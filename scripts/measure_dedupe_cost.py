"""Measure the dedupe stage's cost: Redis bytes per article held in the window, µs per article.

Starts its own redis-server (embedded, no persistence), publishes N synthetic articles (a
share of them near-duplicate copies of earlier ones) through the real RedisPublisher in
batches, and reports:
- INFO used_memory delta / N, with streams capped (MAXLEN 1) so they do not count;
- MEMORY USAGE summed per key family (identity keys, LSH band buckets, signatures);
- µs per article for signature + band keys (pure) and for the publish round trips.

    .venv/bin/python scripts/measure_dedupe_cost.py --n 20000
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.adapters.embedded_redis import EmbeddedRedis  # noqa: E402
from services.adapters.keys import Keys  # noqa: E402
from services.adapters.publisher import RedisPublisher  # noqa: E402
from services.core import dedupe  # noqa: E402
from services.core.models import Article, Enrichment, FeedRef, RawEntry  # noqa: E402
from services.core.normalise import normalise  # noqa: E402
from services.pipeline import Publication, build_event, identity_keys, near_signature  # noqa: E402

NOW = datetime.now(UTC)
KEYS = Keys("m")


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size)]


def synthetic(n: int, dup_share: float, seed: int = 7) -> list[Article]:
    """N articles: distinct stories, with ``dup_share`` of them edited copies from other feeds."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    out: list[Article] = []
    for i in range(n):
        if out and rng.random() < dup_share:
            src = rng.choice(out)
            title, text = src.title + " - Other Outlet", src.summary + " Reporting by staff."
        else:
            title = " ".join(rng.choices(vocab, k=rng.randint(7, 12))).capitalize()
            words = rng.choices(vocab, k=rng.randint(25, 60))
            text = " ".join(w.capitalize() if rng.random() < 0.1 else w for w in words) + "."
        feed = FeedRef(id=f"f_{i % 50}", url=f"https://feed{i % 50}.example/rss")
        raw = RawEntry(link=f"https://feed{i % 50}.example/story/{i}", title=title,
                       summary_html=text, guid=f"g{i}")  # fmt: skip
        article = normalise(raw, feed=feed, fetched_at=NOW)
        assert article is not None
        out.append(article)
    return out


def publication(article: Article, near: bool = True) -> tuple[Publication, float]:
    """The Publication (no topics, empty enrichment) and seconds spent on the dedupe parts."""
    t0 = time.perf_counter()
    sig = near_signature(article)
    keys = identity_keys(article)
    bands = dedupe.lsh_band_keys(sig)
    blob = sig.to_bytes()
    spent = time.perf_counter() - t0
    event = build_event(article, (), Enrichment(), NOW)
    if not near:  # exact identity only: what the publish costs without the near-dup index
        return Publication(event, keys, ()), spent
    return Publication(event, keys, (), signature=blob, band_keys=bands), spent


def family_bytes(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """(keys, bytes by MEMORY USAGE) per key family."""
    sizes: dict[str, tuple[int, int]] = {}
    for family in ("seen", "lsh", "sig"):
        count = total = 0
        for key in client.scan_iter(f"{KEYS.prefix}:{family}:*", count=1000):
            count += 1
            total += int(client.memory_usage(key, samples=0) or 0)
        sizes[family] = (count, total)
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dup-share", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--no-near", action="store_true", help="baseline: exact keys only")
    args = parser.parse_args()
    articles = synthetic(args.n, args.dup_share)
    pubs, pure_s = [], 0.0
    for a in articles:
        pub, spent = publication(a, near=not args.no_near)
        pubs.append(pub)
        pure_s += spent
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False)
        server.start()
        try:
            client = redis.Redis.from_url(server.url)
            publisher = RedisPublisher(client, KEYS, ttl_s=30 * 86400, maxlen_articles=1,
                                       maxlen_topic=1)  # fmt: skip
            publisher.publish(pubs[:1])
            before = int(client.info("memory")["used_memory"])
            statuses: dict[str, int] = {}
            t0 = time.perf_counter()
            for i in range(1, len(pubs), args.batch):
                for outcome in publisher.publish(pubs[i : i + args.batch]):
                    statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            redis_s = time.perf_counter() - t0
            after = int(client.info("memory")["used_memory"])
            families = family_bytes(client)
            version = client.info("server")["redis_version"]
            lua = client.info("commandstats").get("cmdstat_evalsha", {})
        finally:
            server.stop()
    n, stored = len(pubs) - 1, statuses.get("published", 0)
    print(f"redis {version}; {n} articles after the first; outcomes {statuses}")
    print(f"used_memory delta: {after - before} B = {(after - before) / n:.0f} B/article")
    for family, (count, total) in families.items():
        print(f"  {family:5s}: {count:6d} keys, {total / 1e6:7.2f} MB, {total / n:6.0f} B/article")
    near = families["lsh"][1] + families["sig"][1]
    print(f"near-dup state (lsh+sig, 72 h): {near / max(stored, 1):.0f} B per indexed article")
    print(
        f"signature + band keys + identity keys (pure): {pure_s / len(pubs) * 1e6:.0f} µs/article"
    )
    calls, per_call = lua.get("calls", 0), lua.get("usec_per_call", 0)
    print(
        f"publish round trips (Lua dedupe + XADD), batches of {args.batch}: "
        f"{redis_s / n * 1e6:.0f} µs/article wall; Lua {per_call:.0f} µs/call, {calls} calls"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
