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
from urllib.parse import urlsplit

import redis

from services.adapters.keys import Keys

# KEYS: slots zset, next-start key. ARGV: token, limit, spacing ms, slot ttl ms.
# Returns 0 when a slot was taken, else the milliseconds to wait before trying again.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return nxt - now end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(math.min(tonumber(first[2]) - now, 250), 10)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local spacing = tonumber(ARGV[3])
if spacing > 0 then redis.call('SET', KEYS[2], now + spacing, 'PX', spacing) end
return 0
"""


class HostBusy(Exception):
    """No slot for the host within the wait budget; the feed is retried next tick."""


def host_of(url: str) -> str:
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

    def try_acquire(self, host: str) -> tuple[str | None, float]:
        """(token, 0) when a slot was taken, else (None, seconds to wait)."""
        token = secrets.token_hex(8)
        keys = [f"{self._prefix}{host}:slots", f"{self._prefix}{host}:next"]
        wait_ms = int(
            self._acquire(
                keys=keys, args=[token, self.max_concurrent, self.spacing_ms, self.slot_ttl_ms]
            )
        )
        return (token, 0.0) if wait_ms <= 0 else (None, wait_ms / 1000)

    async def acquire(self, host: str) -> str:
        """Wait for a slot on `host`; raise HostBusy after `max_wait_s`."""
        deadline = time.monotonic() + self.max_wait_s
        while True:
            token, wait = self.try_acquire(host)
            if token is not None:
                return token
            if time.monotonic() + wait > deadline:
                raise HostBusy(f"{host}: no politeness slot within {self.max_wait_s:.0f}s")
            await asyncio.sleep(wait)

    def release(self, host: str, token: str) -> None:
        self._client.zrem(f"{self._prefix}{host}:slots", token)
