"""Per-feed leases in Redis so that one replica at a time fetches a feed.

`SET key token NX PX ttl` takes a lease; a compare-and-delete script releases it only when
the token is still ours (an expired lease taken over by another replica is left alone).
A replica that dies keeps its leases only until they expire: another takes over within
one lease period.

`claim` is the poller's single round trip before a fetch: lease + still-due + not-retired +
the feed's state + a host politeness slot, in one Lua call.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any, Literal

import redis
from redis.commands.core import Script

from services.adapters.keys import Keys
from services.poller.politeness import TAKE_SLOT_LUA

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lease, schedule zset, retired hash, state hash, host slots, host next-start.
# ARGV: lease token, lease ttl ms, feed id, url, only-if-due (1/0), now (epoch s),
#       slot token, host limit, spacing ms, slot ttl ms.
# Returns {status, wait ms, state (flat HGETALL)}; the lease is held only for "ok".
_CLAIM = (
    TAKE_SLOT_LUA
    + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'leased', 0, {}} end
if ARGV[5] == '1' then
  local due = redis.call('ZSCORE', KEYS[2], ARGV[3])
  if (not due) or tonumber(due) > tonumber(ARGV[6]) then
    redis.call('DEL', KEYS[1])
    return {'not_due', 0, {}}
  end
end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then
  redis.call('DEL', KEYS[1])
  return {'retired', 0, {}}
end
local wait = take_slot(KEYS[5], KEYS[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10]))
return {'ok', wait, redis.call('HGETALL', KEYS[4])}
"""
)


@dataclass
class Claim:
    """What the claim script decided for one feed."""

    status: Literal["ok", "leased", "not_due", "retired"]
    token: str = ""  # our lease token when status == "ok"
    slot: str = ""  # our host slot token when one was taken
    wait_s: float = 0.0  # > 0: the host asked to wait before a slot
    state: dict[bytes, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimCall:
    """One claim script call (script, keys, args) and how to read its reply."""

    script: Script
    keys: list[Any]
    args: list[Any]
    token: str
    slot: str

    def result(self, raw: Any) -> Claim:
        status = bytes(raw[0]).decode()
        if status != "ok":
            return Claim(status)  # type: ignore[arg-type]
        flat = raw[2]
        state = {bytes(flat[i]): bytes(flat[i + 1]) for i in range(0, len(flat), 2)}
        wait_ms = int(raw[1])
        return Claim("ok", self.token, self.slot if wait_ms <= 0 else "", wait_ms / 1000, state)


def replica_id() -> str:
    """host:pid:random, unique per Poller instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Leases:
    """Leases named `<prefix>:lease:<name>` owned by one replica (`owner`)."""

    def __init__(
        self, client: redis.Redis, keys: Keys, *, ttl_s: float, owner: str | None = None
    ) -> None:
        self._client = client
        self._prefix = f"{keys.prefix}:lease:"
        self.ttl_ms = max(int(ttl_s * 1000), 1)
        self.owner = owner or replica_id()
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)
        self._claim = client.register_script(_CLAIM)

    def key(self, name: str) -> str:
        return self._prefix + name

    def acquire(self, name: str) -> str | None:
        """A token when the lease was free (now ours), None when another replica holds it."""
        token = f"{self.owner}:{secrets.token_hex(6)}"
        ok = self._client.set(self.key(name), token, nx=True, px=self.ttl_ms)
        return token if ok else None

    def claim_call(
        self,
        name: str,
        *,
        url: str,
        only_if_due: bool,
        now: float,
        keys: list[str],
        slot_args: list[int],
    ) -> ClaimCall:
        """The claim script's call (lease `name`, check due/retired, read state, try a host
        slot), to send alone or pipelined with others. `keys`: schedule zset, retired hash,
        state hash, host slots, host next-start."""
        token, slot = f"{self.owner}:{secrets.token_hex(6)}", secrets.token_hex(8)
        args: list[Any] = [token, self.ttl_ms, name, url, int(only_if_due), repr(now), slot]
        return ClaimCall(self._claim, [self.key(name), *keys], [*args, *slot_args], token, slot)

    def release(self, name: str, token: str) -> bool:
        """Release our lease; False when it had expired (and maybe been taken over)."""
        return bool(self._release(keys=[self.key(name)], args=[token]))

    def extend(self, name: str, token: str) -> bool:
        """Renew our lease for another ttl; False when it is no longer ours."""
        return bool(self._extend(keys=[self.key(name)], args=[token, self.ttl_ms]))

    def holder(self, name: str) -> str | None:
        value = self._client.get(self.key(name))
        return None if value is None else bytes(value).decode()
