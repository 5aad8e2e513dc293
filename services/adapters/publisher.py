"""RedisPublisher: atomic dedupe + publish, one pipelined round trip per batch when no
article needs a decision (no identity hit, no near-duplicate candidate).

Each article is one call of ``publish.lua`` that checks the article's identity keys and
its LSH band fields against what the worker expects (:class:`services.pipeline.Attempt`)
and either applies the attempt or returns the state; articles whose state differed are
resolved by :func:`services.pipeline.resolve` and sent again, in one more round trip.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import redis

from services.adapters.keys import Keys
from services.core.errors import PublishError
from services.core.models import SCHEMA_V1
from services.pipeline import (
    HOT_BAND,
    Attempt,
    Publication,
    PublishOutcome,
    Reply,
    StoreState,
    run_attempts,
)

_SCRIPT = resources.files("services.adapters").joinpath("publish.lua").read_text("utf-8")
NEAR_WINDOW_S = 72 * 3600
MAX_CANDIDATES = 64


class RedisPublisher:
    """Claims identity keys, indexes near-dup bands and XADDs events atomically (Lua)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        ttl_s: int,
        maxlen_articles: int,
        maxlen_topic: int,
        near_window_s: int = NEAR_WINDOW_S,
        maxlen_duplicates: int | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._script = client.register_script(_SCRIPT)
        self._ttl_s = ttl_s
        self._near_s = near_window_s
        self._maxlen = (maxlen_articles, maxlen_topic, maxlen_duplicates or maxlen_articles)

    def publish(self, items: Sequence[Publication]) -> list[PublishOutcome]:
        return run_attempts(items, self._round_trip) if items else []

    def _round_trip(self, work: Sequence[tuple[Publication, Attempt]]) -> list[Reply]:
        pipe = self._client.pipeline(transaction=False)
        context = self._context()
        for item, attempt in work:
            keys, args = self._call_args(item, attempt, context)
            self._script(keys=keys, args=args, client=pipe)
        try:
            raw = pipe.execute()
        except redis.RedisError as exc:
            raise PublishError(f"publishing {len(work)} articles to Redis failed: {exc}") from exc
        return [_reply(r) for r in raw]

    def _context(self) -> tuple[str, int]:
        """Day buckets to read (today first) and when today's bucket expires."""
        now = time.time()
        today = datetime.fromtimestamp(now, UTC).date()
        back = math.ceil(self._near_s / 86400)
        days = ",".join((today - timedelta(days=d)).strftime("%Y%m%d") for d in range(back + 1))
        midnight = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
        return days, int(midnight.timestamp()) + self._near_s

    def _call_args(
        self, item: Publication, attempt: Attempt, context: tuple[str, int]
    ) -> tuple[list[str], list[Any]]:
        identity = [self._keys.identity(k) for k in item.identity_keys]
        streams = [self._keys.articles, self._keys.duplicates]
        streams += [self._keys.topic(slug) for slug in item.topics]
        event = attempt.event or item.event
        days, expire_at = context
        args: list[Any] = [
            len(identity), item.kinds, item.event.id, item.content_token, attempt.mode,
            attempt.expect.identity, attempt.expect.snapshot, event.model_dump_json(),
            event.type, SCHEMA_V1, event.story.id, self._ttl_s,
            self._keys.lsh_root, self._keys.sig_root, days, expire_at, self._near_s,
            item.handle, item.sig_value, ",".join(item.band_keys), *self._maxlen, MAX_CANDIDATES,
            HOT_BAND,
        ]  # fmt: skip
        return identity + streams, args


def _reply(raw: list[Any]) -> Reply:
    status = _text(raw[0])
    if status == "state":
        state = StoreState(_text(raw[1]), _text(raw[2]), tuple(bytes(r) for r in raw[3:]))
        return Reply(status="state", state=state)
    if status not in ("published", "updated", "duplicate", "replayed"):
        raise PublishError(f"unexpected reply {status!r} from publish.lua: is the script current?")
    return Reply(status=status, values=tuple(_text(r) for r in raw[1:]))  # type: ignore[arg-type]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
