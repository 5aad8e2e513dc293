"""The dashboard in headless Chromium against a real redis-server: live articles via SSE.

Chromium is Debian's `chromium` package (installed here with apt-get when missing and
running as root); Playwright drives it through `executable_path` (never `playwright install`).
The screenshot is saved to test-artifacts/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from services.adapters.feedstate import FeedState, RedisFeedStore
from services.adapters.keys import Keys
from services.core.models import SCHEMA_V1, ArticleEvent, Evidence, FeedRef, Story, TopicScore
from services.dashboard import serve_dashboard
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
KEYS = Keys("nwd")
FEED = FeedRef(id="f1", url="https://news.example/rss", title="News Example")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must provide Chromium and Playwright")
    pytest.skip(reason)


def _chromium() -> str:
    if not os.path.exists(CHROMIUM) and shutil.which("apt-get") and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        done = subprocess.run(install, check=False, capture_output=True, timeout=900)
        if done.returncode != 0:  # a stale package index: refresh it once and retry
            subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
            subprocess.run(install, check=False, capture_output=True, timeout=900)
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture
def browser_page() -> Iterator[Any]:
    path = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright (PyPI) is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        yield page
        browser.close()


def event(n: int, title: str, topics: dict[str, list[str]]) -> ArticleEvent:
    now = datetime.now(UTC)
    url = f"https://news.example/{n}"
    scores = tuple(
        TopicScore(
            slug=slug,
            score=0.9,
            evidence=tuple(Evidence(kind="term", value=v, field="title") for v in ev),
        )
        for slug, ev in topics.items()
    )
    return ArticleEvent(
        id=f"art{n}", url=url, canonical_url=url, title=title, summary=title, fetched_at=now,
        processed_at=now, feed=FEED,
        topics=scores, story=Story(id=f"art{n}"), content_hash=f"h{n}",
    )  # fmt: skip


def publish(client: redis.Redis, e: ArticleEvent) -> None:
    fields = {"type": e.type, "id": e.id, "schema": SCHEMA_V1, "data": e.model_dump_json()}
    client.xadd(KEYS.articles, fields)  # type: ignore[arg-type]
    for t in e.topics:
        client.xadd(KEYS.topic(t.slug), fields)  # type: ignore[arg-type]


def seed(client: redis.Redis) -> None:
    publish(
        client, event(1, "UNHCR warns of Afghan refugees at the border", {"refugees": ["unhcr"]})
    )
    publish(client, event(2, "Taliban envoys hold talks in Doha", {"taliban-diplomacy": ["doha"]}))
    both = {"refugees": ["refugee*"], "taliban-diplomacy": ["taliban*"]}
    publish(client, event(3, "<script>alert(1)</script> Taliban return forces refugees out", both))
    store = RedisFeedStore(client, KEYS)
    store.save("f1", FeedState(url="https://news.example/rss", title="News Example", status="ok"))
    store.save("f2", FeedState(url="https://slow.example/rss", title="Slow", status="degraded"))
    client.xadd(KEYS.dlq, {"type": "batch.failed", "error": "invalid article payload", "at": "now"})


def test_dashboard_shows_live_articles_for_both_topics(
    browser_page: Any, redis_url: str, redis_client: redis.Redis
) -> None:
    seed(redis_client)
    server = serve_dashboard(redis_url, KEYS, "127.0.0.1", 0, refresh_s=2.0)
    try:
        with urllib.request.urlopen(f"{server.url}/api/snapshot", timeout=5) as r:
            import json

            snapshot = json.loads(r.read())
        assert [t["slug"] for t in snapshot["topics"]] == ["refugees", "taliban-diplomacy"]
        assert snapshot["dlq"]["size"] == 1

        page = browser_page
        page.goto(server.url, wait_until="domcontentloaded")
        page.wait_for_selector("#connection[data-state=live]", timeout=10_000)
        refugees = page.locator("#topic-refugees .articles li")
        diplomacy = page.locator("#topic-taliban-diplomacy .articles li")
        refugees.first.wait_for(timeout=10_000)
        assert refugees.count() == 2 and diplomacy.count() == 2
        assert "UNHCR warns" in page.inner_text("#topic-refugees")
        assert "term: unhcr" in page.inner_text("#topic-refugees")
        assert page.locator("script:has-text('alert(1)')").count() == 0  # titles are text
        assert "<script>alert(1)</script>" in page.inner_text("#topic-taliban-diplomacy")

        topics = {"refugees": ["refugee*"], "taliban-diplomacy": ["envoy"]}
        title = "LIVE: Taliban minister meets UN envoy on refugee returns"
        publish(redis_client, event(4, title, topics))
        live = page.locator("#topic-taliban-diplomacy .articles li.live")
        live.first.wait_for(timeout=10_000)
        assert "LIVE: Taliban minister" in live.first.inner_text()
        assert "LIVE: Taliban minister" in page.inner_text(
            "#topic-refugees .articles li:first-child"
        )
        assert "degraded" in page.inner_text("#feeds")
        assert page.inner_text("#dlq-size") == "1"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    finally:
        server.stop()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
