"""Shared fixtures: the ../shared corpus, a real redis-server on a free port, feed servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.adapters.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skip when it is missing (fail in CI, where it must exist)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must run next to ../shared")
        pytest.skip(f"{path} not present (clone without ../shared): skipped")
    return path


@pytest.fixture(scope="session")
def corpus_feeds() -> Path:
    return shared_path("corpus", "feeds")


@pytest.fixture(scope="session")
def seed_article() -> str:
    return shared_path("seed-article.txt").read_text("utf-8")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real redis-server owned by this test session (never a shared one)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


class CeleryWorker:
    """A real `celery worker` subprocess on its own redis-server.

    One per test session (the Celery app caches its broker connection): tests that use
    it are marked `xdist_group("celery")` so they share it.
    """

    def __init__(self, redis_url: str, log_path: Path) -> None:
        import subprocess
        import sys

        env = {**os.environ, "NEWSWIRE_REDIS_URL": redis_url, "NEWSWIRE_LOG_FORMAT": "json"}
        self.redis_url = redis_url
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
             "--concurrency", "1", "--queues", "newswire", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
        self._log.close()


@pytest.fixture(scope="session")
def celery_worker_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorker]:
    from config.settings import load_settings
    from workers.celery_app import configure

    tmp = tmp_path_factory.mktemp("worker")
    server = EmbeddedRedis(tmp / "redis", persist=False)
    server.start()
    configure(load_settings(), server.url)
    worker = CeleryWorker(server.url, tmp / "worker.log")
    yield worker
    worker.stop()
    server.stop()
