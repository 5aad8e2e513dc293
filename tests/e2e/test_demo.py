"""`newswire demo` then `newswire subscribe`, with no NEWSWIRE_REDIS_URL: the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.core.models import ArticleEvent
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def newswire(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_demo_then_subscribe_reads_a_v1_event(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env |= {
        "NEWSWIRE_DATA_DIR": str(tmp_path / "data"),
        "NEWSWIRE_OBSERVABILITY__POLLER_PORT": "0",
        "NEWSWIRE_OBSERVABILITY__WORKER_PORT": "0",
        "COLUMNS": "160",
    }
    started = time.monotonic()
    demo = newswire("demo", env=env, timeout=120)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert time.monotonic() - started < 60
    assert "article.published" in demo.stdout
    assert "refugees" in demo.stdout and "taliban-diplomacy" in demo.stdout
    # the demo's embedded Redis is gone; subscribe starts one on the same data directory
    sub = newswire(
        "subscribe", "--topic", "refugees", "--from-start", "--count", "1", "--format", "json",
        env=env, timeout=60,
    )  # fmt: skip
    assert sub.returncode == 0, sub.stderr
    event = ArticleEvent.model_validate_json(sub.stdout.strip())
    assert event.schema_version == "newswire.article.v1"
    assert "refugees" in {t.slug for t in event.topics}
    assert not list((tmp_path / "data" / "redis").glob("redis.json")), "embedded Redis left running"
