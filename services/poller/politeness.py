"""Per-host politeness shared by every replica through Redis.

A host has at most `max_concurrent` fetches in flight (a sorted set of slot tokens scored
by their expiry, so a crashed replica's slot frees itself) and consecutive fetches start
at least `min_spacing_s` apart. Time comes from the Redis server (`TIME`), one clock for
every replica. `acquire` waits (async) up to `max_wait_s`, then gives up.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import redis

from services.adapters.keys import Keys

# Lua: take a host slot. Returns 0 when a slot was taken, else the ms to wait. Shared with
# the lease claim script (services/poller/leases.py) so both decide the same way.
TAKE_SLOT_LUA = """
local function take_slot(slots, nxt_key, token, limit, spacing, ttl)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  local nxt = tonumber(redis.call('GET', nxt_key) or '0')
  if nxt > now then return nxt - now end
  if redis.call('ZCARD', slots) >= limit then
    local first = redis.call('ZRANGE', slots, 0, 0, 'WITHSCORES')
    return math.max(math.min(tonumber(first[2]) - now, 250), 10)
  end
  redis.call('ZADD', slots, now + ttl, token)
  redis.call('PEXPIRE', slots, ttl)
  if spacing > 0 then redis.call('SET', nxt_key, now + spacing, 'PX', spacing) end
  return 0
end
"""
# KEYS: slots zset, next-start key. ARGV: token, limit, spacing ms, slot ttl ms.
_ACQUIRE = (
    TAKE_SLOT_LUA
    + "return take_slot(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), "
    + "tonumber(ARGV[4]))"
)


class HostBusy(Exception):
    """No slot for the host within the wait budget; the feed is retried next tick."""


@lru_cache(maxsize=65536)
def host_of(url: str) -> str:
    """The URL's host name, lower-cased (memoised: asked for every poll of every feed)."""
    return (urlsplit(url).hostname or "").lower()


class HostLimiter:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        max_concurrent: int = 2,
        min_spacing_s: float = 1.0,
        slot_ttl_s: float = 120.0,
        max_wait_s: float = 30.0,
    ) -> None:
        self._client = client
        self._prefix = f"{keys.prefix}:host:"
        self.max_concurrent = max_concurrent
        self.spacing_ms = int(min_spacing_s * 1000)
        self.slot_ttl_ms = int(slot_ttl_s * 1000)
        self.max_wait_s = max_wait_s
        self._acquire = client.register_script(_ACQUIRE)

    def slot_keys(self, host: str) -> list[str]:
        """The host's slots sorted set and next-start key."""
        return [f"{self._prefix}{host}:slots", f"{self._prefix}{host}:next"]

    def slot_args(self) -> list[int]:
        """limit, spacing ms, slot ttl ms (the script's arguments after the token)."""
        return [self.max_concurrent, self.spacing_ms, self.slot_ttl_ms]

    def try_acquire(self, host: str) -> tuple[str | None, float]:
        """(token, 0) when a slot was taken, else (None, seconds to wait)."""
        token = secrets.token_hex(8)
        keys = self.slot_keys(host)
        wait_ms = int(
            self._acquire(
                keys=keys, args=[token, self.max_concurrent, self.spacing_ms, self.slot_ttl_ms]
            )
        )
        return (token, 0.0) if wait_ms <= 0 else (None, wait_ms / 1000)

    async def acquire(self, host: str, *, first_wait_s: float | None = None) -> str:
        """Wait for a slot on `host`; raise HostBusy after `max_wait_s`.

        `first_wait_s`: a first attempt already made (by the claim script) said to wait.
        """
        deadline = time.monotonic() + self.max_wait_s
        while True:
            if first_wait_s is None:
                token, wait = self.try_acquire(host)
            else:
                token, wait, first_wait_s = None, first_wait_s, None
            if token is not None:
                return token
            if time.monotonic() + wait > deadline:
                raise HostBusy(f"{host}: no politeness slot within {self.max_wait_s:.0f}s")
            await asyncio.sleep(wait)

    def release(self, host: str, token: str, pipe: Any = None) -> None:
        """Free our slot (queued on `pipe` when given)."""
        (pipe if pipe is not None else self._client).zrem(self.slot_keys(host)[0], token)
