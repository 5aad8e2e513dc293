"""Per-feed leases in Redis so that one replica at a time fetches a feed.

`SET key token NX PX ttl` takes a lease; a compare-and-delete script releases it only when
the token is still ours (an expired lease taken over by another replica is left alone).
A replica that dies keeps its leases only until they expire: another takes over within
one lease period.
"""

from __future__ import annotations

import os
import secrets
import socket

import redis

from services.adapters.keys import Keys

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


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

    def key(self, name: str) -> str:
        return self._prefix + name

    def acquire(self, name: str) -> str | None:
        """A token when the lease was free (now ours), None when another replica holds it."""
        token = f"{self.owner}:{secrets.token_hex(6)}"
        ok = self._client.set(self.key(name), token, nx=True, px=self.ttl_ms)
        return token if ok else None

    def release(self, name: str, token: str) -> bool:
        """Release our lease; False when it had expired (and maybe been taken over)."""
        return bool(self._release(keys=[self.key(name)], args=[token]))

    def extend(self, name: str, token: str) -> bool:
        """Renew our lease for another ttl; False when it is no longer ours."""
        return bool(self._extend(keys=[self.key(name)], args=[token, self.ttl_ms]))

    def holder(self, name: str) -> str | None:
        value = self._client.get(self.key(name))
        return None if value is None else bytes(value).decode()
