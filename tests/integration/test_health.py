"""The health server over real HTTP: liveness, readiness (Redis + callback), metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import redis

from services.health import start_health_server

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def test_alive_ready_and_metrics(redis_client: redis.Redis) -> None:
    server = start_health_server(
        0, "127.0.0.1", lambda: (True, "consuming"), redis_client=redis_client
    )
    try:
        assert server.port > 0
        status, _, body = get(f"{server.url}/healthz")
        assert status == 200 and json.loads(body) == {"alive": True}
        status, _, body = get(f"{server.url}/readyz")
        assert status == 200 and json.loads(body) == {"ready": True, "reason": "consuming"}
        status, content_type, body = get(f"{server.url}/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        assert b"# TYPE python_info gauge" in body or b"# TYPE newswire_" in body
        status, _, body = get(f"{server.url}/nope")
        assert status == 404 and b"/healthz" in body
    finally:
        server.stop()


def test_not_ready_when_callback_says_so(redis_client: redis.Redis) -> None:
    server = start_health_server(
        0, "127.0.0.1", lambda: (False, "no worker consuming"), redis_client=redis_client
    )
    try:
        status, content_type, body = get(f"{server.url}/readyz")
        assert status == 503 and content_type == "application/json"
        assert json.loads(body) == {"ready": False, "reason": "no worker consuming"}
        assert get(f"{server.url}/healthz")[0] == 200  # still alive
    finally:
        server.stop()


def test_not_ready_when_redis_is_unreachable() -> None:
    dead = redis.Redis.from_url("redis://:s3cret@127.0.0.1:1/0", socket_connect_timeout=1)
    server = start_health_server(0, "127.0.0.1", lambda: (True, "ok"), redis_client=dead)
    try:
        status, _, body = get(f"{server.url}/readyz")
        reply = json.loads(body)
        assert status == 503 and reply["ready"] is False
        assert reply["reason"].startswith("redis unreachable: ConnectionError")
        assert "s3cret" not in reply["reason"]
    finally:
        server.stop()


def test_a_crashing_callback_means_not_ready() -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("probe bug")

    server = start_health_server(0, "127.0.0.1", broken)
    try:
        status, _, body = get(f"{server.url}/readyz")
        assert status == 503 and "probe bug" in json.loads(body)["reason"]
    finally:
        server.stop()
