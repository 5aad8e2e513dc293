"""`newswire fetch URL`: the poller's guarded fetch + parse, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.demo.run import demo_feeds_dir
from services.demo.server import FeedServer
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def fetch(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "fetch", url],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_loopback_is_refused_by_default() -> None:
    with FeedServer.from_directory(demo_feeds_dir()) as server:
        result = fetch(server.url("/world-desk.xml"), NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS="false")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1" in lines[0]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://2130706433/", "http://0x7f.1/"])
def test_bad_schemes_and_odd_addresses_are_refused(url: str) -> None:
    result = fetch(url, NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS="false")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_allowed_fetch_prints_normalised_articles() -> None:
    with FeedServer.from_directory(demo_feeds_dir()) as server:
        result = fetch(server.url("/world-desk.xml"), NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS="true")
    assert result.returncode == 0, result.stderr
    articles = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(articles) == 6
    assert all(a["url"].startswith("https://demo.newswire.invalid/") for a in articles)
    assert all("utm_source" not in a["canonical_url"] for a in articles)
