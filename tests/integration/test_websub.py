"""WebSub: a real fake hub on 127.0.0.1, our real callback server, a real redis-server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import pytest
import redis
from structlog.testing import capture_logs

from services.core.models import FeedSource
from services.websub import CallbackServer, WebSubStore, WebSubSubscriber, signature_ok
from tests.integration.test_poller import KEYS, ScriptedServer, make_poller, rss

pytestmark = pytest.mark.integration


class HubHandler(BaseHTTPRequestHandler):
    server: FakeHub

    def do_POST(self) -> None:
        form = {
            k: v[0]
            for k, v in parse_qs(
                self.rfile.read(int(self.headers["Content-Length"])).decode()
            ).items()
        }
        self.server.requests.append(form)
        self.server.user_agents.append(self.headers.get("User-Agent", ""))
        self.send_response(self.server.answer)
        self.send_header("Location", self.server.url)  # followed only by a careless client
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.server.answer == 202:
            threading.Thread(target=self.server.verify, args=(form,), daemon=True).start()

    def log_message(self, format: str, *args: object) -> None:
        return


class FakeHub(ThreadingHTTPServer):
    """Accepts subscriptions, verifies intent with a challenge, then can publish content."""

    daemon_threads = True

    def __init__(self, lease_s: int = 3600) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.lease_s = lease_s
        self.requests: list[dict[str, str]] = []
        self.user_agents: list[str] = []
        self.answer = 202  # HTTP status of the subscription request's answer
        self.verified: list[tuple[int, str, str]] = []  # (status, challenge, echoed)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def verify(self, form: dict[str, str], topic: str | None = None) -> None:
        challenge = f"c-{len(self.verified)}-{time.monotonic_ns()}"
        query = urlencode(
            {
                "hub.mode": form["hub.mode"],
                "hub.topic": topic or form["hub.topic"],
                "hub.challenge": challenge,
                "hub.lease_seconds": self.lease_s,
            }
        )
        try:
            with urllib.request.urlopen(f"{form['hub.callback']}?{query}", timeout=5) as r:
                self.verified.append((r.status, challenge, r.read().decode()))
        except urllib.error.HTTPError as exc:
            self.verified.append((exc.code, challenge, ""))
        except OSError:  # the subscriber's callback server stopped: a hub just gives up
            self.verified.append((0, challenge, ""))

    def publish(
        self, form: dict[str, str], body: bytes, *, secret: str | None = None, algo: str = "sha256"
    ) -> int:
        key = (secret if secret is not None else form["hub.secret"]).encode()
        sig = f"{algo}=" + hmac.new(key, body, getattr(hashlib, algo)).hexdigest()
        headers = {"Content-Type": "application/rss+xml", "X-Hub-Signature": sig}
        request = urllib.request.Request(form["hub.callback"], data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=5) as r:
            return int(r.status)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    srv = FakeHub()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def callback(redis_client: redis.Redis) -> Iterator[CallbackServer]:
    srv = CallbackServer(WebSubStore(redis_client, KEYS)).start()
    yield srv
    srv.stop()


@pytest.fixture
def site() -> Iterator[ScriptedServer]:
    srv = ScriptedServer({})
    yield srv
    srv.shutdown()
    srv.server_close()


def wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_signature_check() -> None:
    body = b"<rss/>"
    good = "sha1=" + hmac.new(b"s3cret", body, hashlib.sha1).hexdigest()
    assert signature_ok("s3cret", good, body)
    assert not signature_ok("other", good, body)
    assert not signature_ok("s3cret", good, body + b" ")
    assert not signature_ok("s3cret", "md5=" + hashlib.md5(body).hexdigest(), body)
    assert not signature_ok("", good, body)


def test_subscribe_verify_push_and_fallback(
    hub: FakeHub, callback: CallbackServer, site: ScriptedServer, redis_client: redis.Redis
) -> None:
    extra = (
        f'<atom:link rel="hub" href="{hub.url}"/><atom:link rel="self" href="{site.url("/feed")}"/>'
    )
    site.routes["/feed"] = lambda h: h.reply(200, rss(1, extra=extra))
    feed = FeedSource(url=site.url("/feed"))
    poller, sent = make_poller(redis_client)
    poller.websub = WebSubSubscriber(redis_client, KEYS, callback_base_url=callback.base_url,
                                     allow_private_networks=True, lease_s=3600)  # fmt: skip

    async def tick() -> None:
        await poller.tick(lambda: [feed])

    async def scenario() -> None:
        try:
            await tick()  # poll → hub advertised → subscribe
            assert len(hub.requests) == 1
            form = hub.requests[0]
            assert form["hub.mode"] == "subscribe" and form["hub.topic"] == feed.url
            assert form["hub.callback"] == f"{callback.base_url}/websub/{feed.id}"
            await asyncio.to_thread(wait_for, lambda: hub.verified)
            status, challenge, echoed = hub.verified[0]
            assert status == 200 and echoed == challenge
            assert poller.websub is not None and poller.websub.push_active(feed.id, time.time())
            # content pushed with a good signature enters the same digest → enqueue path
            assert await asyncio.to_thread(hub.publish, form, rss(2, tag="pushed")) == 202
            assert (
                await asyncio.to_thread(hub.publish, form, rss(2, tag="forged"), secret="wrong")
                == 202
            )
            before = len(sent)
            await tick()
            assert sorted(a.title for a in sent[before:]) == ["pushed 0", "pushed 1"]
            # the next poll of a pushed feed is at the fallback interval
            redis_client.zadd(KEYS.schedule, {feed.id: 0})
            await tick()
            state = poller.store.get(feed.id)
            assert (
                "WebSub" in state.next_poll_reason
                and state.next_poll_at - time.time() > 6 * 3600 * 0.85
            )
            assert len(hub.requests) == 1  # active subscription: no re-subscribe
        finally:
            await poller.fetcher.aclose()  # type: ignore[attr-defined]
            await poller.websub.aclose()  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_wrong_topic_is_not_verified_and_lease_is_renewed(
    hub: FakeHub, callback: CallbackServer, redis_client: redis.Redis
) -> None:
    hub.lease_s = 1
    subscriber = WebSubSubscriber(redis_client, KEYS, callback_base_url=callback.base_url,
                                  allow_private_networks=True, lease_s=1)  # fmt: skip

    async def scenario() -> None:
        try:
            assert await subscriber.subscribe(
                "f_x", "https://a.example/rss", hub.url, "https://a.example/rss"
            )
            await asyncio.to_thread(wait_for, lambda: hub.verified)
            form = hub.requests[0]
            await asyncio.to_thread(hub.verify, form, "https://evil.example/other")
            assert hub.verified[1][0] == 404 and hub.verified[1][2] == ""
            assert subscriber.push_active("f_x", time.time())
            await asyncio.sleep(0.9)  # renew at 80% of the granted 1 s lease
            assert await subscriber.renew_due(time.time()) == 1
            assert len(hub.requests) == 2 and hub.requests[1]["hub.secret"] == form["hub.secret"]
        finally:
            await subscriber.aclose()

    asyncio.run(scenario())


def test_callback_refuses_unknown_and_oversized(
    callback: CallbackServer, redis_client: redis.Redis
) -> None:
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(
            f"{callback.base_url}/websub/nope?hub.mode=subscribe&hub.topic=x&hub.challenge=y",
            timeout=5,
        )
    assert unknown.value.code == 404
    request = urllib.request.Request(
        f"{callback.base_url}/websub/nope", data=b"x" * 10, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as inactive:
        urllib.request.urlopen(request, timeout=5)
    assert inactive.value.code == 410
    assert WebSubStore(redis_client, KEYS).drain(10) == []


def test_subscribe_failures_are_recorded(
    hub: FakeHub, callback: CallbackServer, redis_client: redis.Redis
) -> None:
    """Refusals, redirects, unreachable hubs and private hubs leave a `failed` record."""
    store = WebSubStore(redis_client, KEYS)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{free.getsockname()[1]}/"
    free.close()

    def subscriber(allow_private: bool) -> WebSubSubscriber:
        return WebSubSubscriber(
            redis_client,
            KEYS,
            callback_base_url=callback.base_url,
            allow_private_networks=allow_private,
            user_agent="nw-test/1",
        )

    async def attempt(fid: str, url: str, *, allow_private: bool = True) -> bool:
        sub = subscriber(allow_private)
        try:
            return await sub.subscribe(fid, "https://a.example/rss", url, "https://a.example/rss")
        finally:
            await sub.aclose()

    async def scenario() -> list[tuple[str, bool, dict[str, str]]]:
        out = []
        for fid, answer, url, allow_private in [
            ("f_ok", 202, hub.url, True),
            ("f_500", 500, hub.url, True),
            ("f_307", 307, hub.url, True),
            ("f_closed", 202, closed, True),
            ("f_private", 202, hub.url, False),
        ]:
            hub.answer = answer
            out.append((fid, await attempt(fid, url, allow_private=allow_private), store.get(fid)))
        return out

    with capture_logs() as logs:
        results = asyncio.run(scenario())
    ok, refused, redirected, unreachable, private = results
    assert ok[1] and "reason" not in ok[2] and hub.user_agents[0] == "nw-test/1"
    assert not refused[1] and refused[2]["reason"] == "hub answered HTTP 500"
    assert not redirected[1] and redirected[2]["reason"] == "hub answered HTTP 307"
    assert len(hub.requests) == 3  # the redirect was not followed; no request left the guard
    assert not unreachable[1] and unreachable[2]["status"] == "failed"
    assert unreachable[2]["reason"]
    assert not private[1] and private[2]["status"] == "failed"
    assert "refused" in private[2]["reason"] and "127.0.0.1" in private[2]["reason"]
    events = [
        (e["event"], e["feed_id"]) for e in logs if e["event"].startswith("websub.subscribe_")
    ]
    assert events == [
        ("websub.subscribe_requested", "f_ok"),
        ("websub.subscribe_refused", "f_500"),
        ("websub.subscribe_refused", "f_307"),
        ("websub.subscribe_failed", "f_closed"),
        ("websub.subscribe_failed", "f_private"),
    ]
