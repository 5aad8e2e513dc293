"""WebSub subscriber: subscribe to hubs, verify intent, check signatures, queue pushed content.

Subscriptions live in Redis (`<prefix>:websub:sub:<feed id>`, renewals in the sorted set
`<prefix>:websub:renew`), so any replica can serve the callback and any poller can renew.
The callback server (`CallbackServer`, stdlib ThreadingHTTPServer) answers
`GET /websub/<feed id>` (intent verification: echoes hub.challenge only for the topic and
mode we asked for) and `POST /websub/<feed id>` (content: `X-Hub-Signature` HMAC with the
subscription's secret, sha1/sha256/sha384/sha512; unsigned or badly signed content is
acknowledged and dropped, as the spec requires). Accepted content is queued on
`<prefix>:websub:inbox`; the poller drains it into the same digest → enqueue path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import redis
import structlog

from services.adapters.fetcher import checked_url
from services.adapters.keys import Keys
from services.adapters.netguard import guarded_session
from services.core.errors import FetchError
from services.httpserver import BackgroundHTTPServer, QuietHandler

log = structlog.get_logger("newswire.websub")

MAX_PUSH_BYTES = 3 * 1024 * 1024
PENDING_RETRY_S = 600.0
INBOX_MAX = 10_000
SIGNATURE_ALGOS = frozenset({"sha1", "sha256", "sha384", "sha512"})


@dataclass(frozen=True)
class Pushed:
    feed_id: str
    feed_url: str
    body: bytes
    content_type: str | None


class WebSubStore:
    """Subscription records and the inbox of pushed documents in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self._base = f"{keys.prefix}:websub"
        self.renew_key = f"{self._base}:renew"
        self.inbox_key = f"{self._base}:inbox"

    def sub_key(self, fid: str) -> str:
        return f"{self._base}:sub:{fid}"

    def get(self, fid: str) -> dict[str, str]:
        raw = self.client.hgetall(self.sub_key(fid))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def put(self, fid: str, **fields: Any) -> None:
        self.client.hset(self.sub_key(fid), mapping={k: str(v) for k, v in fields.items()})

    def verify(self, fid: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        """Answer a hub's verification request: (HTTP status, body)."""
        sub, mode = self.get(fid), params.get("hub.mode", "")
        if not sub or params.get("hub.topic") != sub.get("topic"):
            return 404, b"unknown subscription"
        if mode == "denied":
            self.put(fid, status="denied", reason=params.get("hub.reason", ""))
            log.warning("websub.denied", feed_id=fid, reason=params.get("hub.reason"))
            return 200, b""
        if mode != sub.get("mode") or "hub.challenge" not in params:
            return 404, b"no such pending intent"
        if mode == "subscribe":
            lease = float(params.get("hub.lease_seconds") or sub.get("lease_s") or 86400)
            now = time.time()
            self.put(
                fid,
                status="active",
                expires_at=now + lease,
                renew_at=now + lease * 0.8,
                verified_at=now,
            )
            self.client.zadd(self.renew_key, {fid: now + lease * 0.8})
        else:
            self.put(fid, status="unsubscribed")
            self.client.zrem(self.renew_key, fid)
        log.info("websub.verified", feed_id=fid, mode=mode, lease_s=params.get("hub.lease_seconds"))
        return 200, params["hub.challenge"].encode()

    def deliver(self, fid: str, headers: Mapping[str, str], body: bytes) -> int:
        """Check the signature of pushed content and queue it; the HTTP status to answer."""
        sub = self.get(fid)
        if not sub or sub.get("status") != "active":
            return 410  # tells the hub to stop sending
        if not signature_ok(sub.get("secret", ""), headers.get("x-hub-signature", ""), body):
            log.warning("websub.bad_signature", feed_id=fid)
            return 202  # acknowledged, ignored (WebSub §8)
        item = {
            "feed_id": fid,
            "feed_url": sub.get("feed_url", ""),
            "content_type": headers.get("content-type"),
            "body": base64.b64encode(body).decode(),
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(self.inbox_key, orjson.dumps(item))
        pipe.ltrim(self.inbox_key, -INBOX_MAX, -1)  # bounded: polling catches up on overflow
        pipe.execute()
        return 202

    def drain(self, limit: int) -> list[Pushed]:
        items = []
        for _ in range(limit):
            raw = self.client.lpop(self.inbox_key)
            if raw is None:
                break
            data = orjson.loads(raw)
            items.append(
                Pushed(
                    data["feed_id"],
                    data["feed_url"],
                    base64.b64decode(data["body"]),
                    data.get("content_type"),
                )
            )
        return items


def signature_ok(secret: str, header: str, body: bytes) -> bool:
    """`X-Hub-Signature: <algo>=<hex hmac of body>` with a known algorithm and our secret."""
    algo, _, given = header.strip().partition("=")
    if not secret or algo.lower() not in SIGNATURE_ALGOS or not given:
        return False
    expected = hmac.new(secret.encode(), body, getattr(hashlib, algo.lower())).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


class WebSubSubscriber:
    """Subscribes feeds to their hubs and renews leases; used by the poller loop."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        callback_base_url: str,
        lease_s: int = 10 * 86400,
        allow_private_networks: bool = False,
        user_agent: str = "newswire",
        timeout_s: float = 10.0,
    ) -> None:
        self.store = WebSubStore(client, keys)
        self.callback_base_url = callback_base_url.rstrip("/")
        self.lease_s = lease_s
        self._allow_private = allow_private_networks
        self._user_agent = user_agent
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        """The guarded HTTP session, created on first use inside the running event loop."""
        if self._session is None:
            self._session = guarded_session(
                allow_private=self._allow_private,
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                headers={"User-Agent": self._user_agent},
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def callback_url(self, fid: str) -> str:
        return f"{self.callback_base_url}/websub/{fid}"

    def push_active(self, fid: str, now: float) -> bool:
        sub = self.store.get(fid)
        return sub.get("status") == "active" and float(sub.get("expires_at", 0)) > now

    def drain(self, limit: int) -> list[Pushed]:
        return self.store.drain(limit)

    async def ensure(self, fid: str, feed_url: str, hub: str, topic: str) -> None:
        """Subscribe unless an active or recently requested subscription covers this hub/topic."""
        sub, now = self.store.get(fid), time.time()
        same = sub.get("hub") == hub and sub.get("topic") == topic
        if same and sub.get("status") == "active" and float(sub.get("renew_at", 0) or 0) > now:
            return
        recent = now - float(sub.get("requested_at", 0)) < PENDING_RETRY_S
        if same and recent and sub.get("status") in ("pending", "denied", "failed"):
            return
        await self.subscribe(fid, feed_url, hub, topic)

    async def subscribe(self, fid: str, feed_url: str, hub: str, topic: str) -> bool:
        """POST a subscription request; True when the hub accepted it (2xx)."""
        secret = self.store.get(fid).get("secret") or secrets.token_hex(32)
        now = time.time()
        status = "active" if self.push_active(fid, now) else "pending"
        self.store.put(
            fid, feed_url=feed_url, hub=hub, topic=topic, secret=secret, mode="subscribe",
            status=status, requested_at=now, lease_s=self.lease_s,
            renew_at=now + self.lease_s * 0.8,
        )  # fmt: skip
        form = {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.callback": self.callback_url(fid),
            "hub.secret": secret,
            "hub.lease_seconds": str(self.lease_s),
        }
        try:
            url = checked_url(hub, allow_private=self._allow_private)  # literal IPs skip DNS
            async with self._http().post(url, data=form, allow_redirects=False) as response:
                answered = response.status
        except (aiohttp.ClientError, FetchError, OSError, TimeoutError) as exc:
            reason = str(exc)[:300] or type(exc).__name__
            self.store.put(fid, status="failed", reason=reason)
            log.warning("websub.subscribe_failed", feed_id=fid, hub=hub, error=reason)
            return False
        if not 200 <= answered < 300:
            self.store.put(fid, status="failed", reason=f"hub answered HTTP {answered}")
            log.warning("websub.subscribe_refused", feed_id=fid, hub=hub, status=answered)
            return False
        log.info("websub.subscribe_requested", feed_id=fid, hub=hub, topic=topic)
        return True

    async def renew_due(self, now: float) -> int:
        """Re-subscribe every subscription whose lease is close to expiry; how many."""
        due = self.store.client.zrangebyscore(self.store.renew_key, "-inf", now, start=0, num=100)
        count = 0
        for raw in due:
            fid = raw.decode()
            sub = self.store.get(fid)
            self.store.client.zrem(self.store.renew_key, fid)
            if sub.get("hub") and sub.get("topic") and sub.get("status") == "active":
                count += await self.subscribe(fid, sub["feed_url"], sub["hub"], sub["topic"])
        return count


class _CallbackHandler(QuietHandler):
    server: CallbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        fid = self._feed_id()
        if fid is None:
            self._answer(404, b"")
            return
        params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        self._answer(*self.server.store.verify(fid, params))

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        fid = self._feed_id()
        length = self.headers.get("Content-Length", "")
        if fid is None or not length.isdigit():
            self._answer(404 if fid is None else 411, b"")
            return
        if int(length) > self.server.max_bytes:
            self._answer(413, b"")
            return
        body = self.rfile.read(int(length))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._answer(self.server.store.deliver(fid, headers, body), b"")

    def _feed_id(self) -> str | None:
        parts = urlsplit(self.path).path.strip("/").split("/")
        return parts[1] if len(parts) == 2 and parts[0] == "websub" and parts[1] else None

    def _answer(self, status: int, body: bytes) -> None:
        self._send(status, "text/plain", body)


class CallbackServer(BackgroundHTTPServer):
    """The WebSub callback endpoint, served in a daemon thread (`start()` / `stop()`)."""

    def __init__(
        self,
        store: WebSubStore,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_bytes: int = MAX_PUSH_BYTES,
    ) -> None:
        super().__init__((host, port), _CallbackHandler, "websub-callback")
        self.store = store
        self.max_bytes = max_bytes

    @property
    def base_url(self) -> str:
        return self.url
