"""`newswire feeds ...` (the typer sub-app) against a real redis-server and a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from services.cli_feeds import feeds_app
from services.opml import parse_opml
from tests.integration.test_poller import ScriptedServer, rss

pytestmark = pytest.mark.integration


@pytest.fixture
def env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n  - url: https://file.example/rss\n    name: From file\n    tags: [a]\n"
    )
    return {
        "NEWSWIRE_REDIS_URL": redis_url,
        "NEWSWIRE_FEEDS_FILE": str(feeds),
        "NEWSWIRE_STREAM_PREFIX": "clitest",
        "NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWIRE_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def site() -> Iterator[ScriptedServer]:
    srv = ScriptedServer({})
    yield srv
    srv.shutdown()
    srv.server_close()


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(feeds_app, list(args), env=env)
    return result.exit_code, result.output


def listed(env: dict[str, str]) -> list[dict[str, object]]:
    code, output = cli(env, "list", "--json")
    assert code == 0, output
    rows: list[dict[str, object]] = json.loads(output)
    return rows


def test_add_list_remove(env: dict[str, str], redis_client: redis.Redis) -> None:
    assert (
        cli(env, "add", "https://reg.example/feed", "--name", "Reg", "--tag", "x", "--tag", "y")[0]
        == 0
    )
    rows = {r["url"]: r for r in listed(env)}
    assert rows["https://file.example/rss"]["source"] == "file"
    reg = rows["https://reg.example/feed"]
    assert reg["source"] == "registry" and reg["tags"] == ["x", "y"] and reg["status"] == "new"
    assert {
        "last_success_at",
        "consecutive_errors",
        "etag",
        "next_poll_at",
        "next_poll_reason",
    } <= set(reg)
    assert redis_client.xlen("clitest:feeds") == 1  # feed.added
    assert cli(env, "remove", "https://reg.example/feed")[0] == 0
    code, out = cli(env, "remove", "https://file.example/rss")
    assert code == 0 and "suppressed" in out
    assert listed(env) == []
    assert cli(env, "remove", "https://never.example/rss")[0] == 2
    assert cli(env, "add", "file:///etc/passwd")[0] == 2
    assert cli(env, "add", "https://file.example/rss")[0] == 0  # re-adding lifts the tombstone
    assert [r["url"] for r in listed(env)] == ["https://file.example/rss"]


def test_opml_import_export_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    opml = tmp_path / "in.opml"
    opml.write_bytes(
        b'<?xml version="1.0"?><opml version="2.0"><body><outline text="News">'
        b'<outline text="One" xmlUrl="https://one.example/rss"/>'
        b'<outline text="Two" xmlUrl="https://two.example/atom"/></outline></body></opml>'
    )
    code, out = cli(env, "import", str(opml))
    assert code == 0 and "imported 2 feeds" in out
    exported = tmp_path / "out.opml"
    assert cli(env, "export", str(exported))[0] == 0
    feeds = {f.url: f for f in parse_opml(exported.read_bytes())}
    assert set(feeds) == {
        "https://file.example/rss",
        "https://one.example/rss",
        "https://two.example/atom",
    }
    assert feeds["https://one.example/rss"].name == "One" and feeds[
        "https://one.example/rss"
    ].tags == ("News",)
    assert feeds["https://file.example/rss"].tags == ("a",)
    bad = tmp_path / "bad.opml"
    bad.write_bytes(b"not opml at all")
    assert cli(env, "import", str(bad))[0] == 2


def test_discover(env: dict[str, str], site: ScriptedServer) -> None:
    site.routes["/page"] = lambda h: h.reply(
        200,
        b"<html><head>"
        b'<link rel="alternate" type="application/atom+xml" href="/atom"></head></html>',
        Content_Type="text/html",
    )  # fmt: skip
    site.routes["/bare"] = lambda h: h.reply(200, b"<html><body>no links</body></html>")
    site.routes["/index.xml"] = lambda h: h.reply(200, rss(1))
    code, out = cli(env, "discover", site.url("/page"))
    assert code == 0 and site.url("/atom") in out and "(link)" in out
    code, out = cli(env, "discover", "--json", site.url("/bare"))
    assert code == 0 and json.loads(out.splitlines()[0])["url"] == site.url("/index.xml")
    code, out = cli(env, "discover", site.url("/index.xml"), "--add")
    assert code == 0 and "(page)" in out
    assert site.url("/index.xml") in [r["url"] for r in listed(env)]
    site.routes.pop("/index.xml")
    assert cli(env, "discover", site.url("/bare"))[0] == 1
    refused = {**env, "NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS": "false"}
    assert cli(refused, "discover", "http://169.254.169.254/")[0] == 2
