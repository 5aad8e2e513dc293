"""`newswire feeds list|add|remove|import|export|discover`: the feed registry from the CLI.

Feeds come from the declarative file (config/feeds.yaml) merged with the Redis registry
(adds, removes, confirmed moves, retirements); see services/registry.py.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import redis
import typer
from rich.console import Console
from rich.table import Table

from config.settings import Settings, load_settings
from services.adapters.feedstate import RedisFeedStore
from services.adapters.keys import Keys
from services.core.errors import ConfigError, FetchError, FetchRefused
from services.core.models import FeedSource
from services.feedlist import load_feeds
from services.registry import FeedRegistry

feeds_app = typer.Typer(
    no_args_is_help=True, help="Feed registry: list, add, remove, OPML, discover."
)
out = Console()
err = Console(stderr=True)

FeedsOpt = Annotated[Path | None, typer.Option("--feeds", help="Feeds file (YAML).")]


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def _registry(settings: Settings) -> Iterator[FeedRegistry]:
    from services.runtime import redis_url_for

    with redis_url_for(settings) as url:
        client = redis.Redis.from_url(url)
        try:
            yield FeedRegistry(client, Keys(settings.stream_prefix))
        finally:
            client.close()


def _file_feeds(settings: Settings, path: Path | None) -> list[FeedSource]:
    try:
        return load_feeds(path or settings.feeds_file)
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


def _http_url(url: str) -> str:
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        err.print(f"error: {url!r} is not an http(s) URL")
        raise typer.Exit(2)
    return url


def _when(ts: float) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts > 0 else None


def feed_rows(registry: FeedRegistry, file_feeds: list[FeedSource]) -> list[dict[str, Any]]:
    """One record per merged feed, with its source and polling state."""
    store = RedisFeedStore(registry.client, registry.keys)
    in_file = {f.url for f in file_feeds}
    rows = []
    for feed in registry.merge(file_feeds):
        state = store.get(feed.id)
        rows.append(
            {
                "id": feed.id, "url": feed.url, "name": feed.name, "tags": list(feed.tags),
                "source": "file" if feed.url in in_file else "registry",
                "status": state.status, "last_success_at": _when(state.last_success_at),
                "last_polled_at": _when(state.last_polled_at),
                "consecutive_errors": state.consecutive_errors,
                "last_error": state.last_error or None,
                "last_error_class": state.last_error_class or None,
                "etag": state.etag or None, "last_modified": state.last_modified or None,
                "next_poll_at": _when(state.next_poll_at),
                "next_poll_reason": state.next_poll_reason,
                "entry_rate_per_day": max(state.entry_rate_per_day, 0.0),
                "hub": state.hub_url or None,
            }
        )  # fmt: skip
    for url, info in registry.retired().items():
        rows.append({"url": url, "status": "retired", "retired_at": _when(info.get("at", 0)),
                     "reason": info.get("reason")})  # fmt: skip
    return rows


@feeds_app.command("list")
def list_feeds(
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array with per-feed state.")
    ] = False,
    feeds: FeedsOpt = None,
) -> None:
    """List the merged feeds (file + registry) with their polling state."""
    settings = _settings()
    file_feeds = _file_feeds(settings, feeds)
    with _registry(settings) as registry:
        rows = feed_rows(registry, file_feeds)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    table = Table("feed", "status", "last success", "errors", "validators", "next poll", "why")
    for r in rows:
        validators = " ".join(
            x
            for x in ("etag" if r.get("etag") else "", "lm" if r.get("last_modified") else "")
            if x
        )
        table.add_row(
            r.get("name") or r["url"], r["status"], (r.get("last_success_at") or "-")[:19],
            str(r.get("consecutive_errors", "")), validators or "-",
            (r.get("next_poll_at") or "-")[:19], r.get("next_poll_reason") or r.get("reason") or "",
        )  # fmt: skip
    out.print(table)


@feeds_app.command()
def add(
    url: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
) -> None:
    """Add a feed to the registry (also re-enables a retired or removed feed)."""
    feed = FeedSource(url=_http_url(url), name=name, tags=tuple(tag or ()))
    with _registry(_settings()) as registry:
        created = registry.add(feed)
    out.print(f"{'added' if created else 'updated'} {feed.url} (id {feed.id})", markup=False)


@feeds_app.command()
def remove(url: str, feeds: FeedsOpt = None) -> None:
    """Remove a feed; a feed listed in the feeds file is suppressed until re-added."""
    settings = _settings()
    url = _http_url(url)
    in_file = url in {f.url for f in _file_feeds(settings, feeds)}
    with _registry(settings) as registry:
        changed = registry.remove(url, in_file=in_file)
    if not changed:
        err.print(f"error: {url} is not a registered feed", markup=False)
        raise typer.Exit(2)
    note = " (listed in the feeds file: suppressed until `feeds add`)" if in_file else ""
    out.print(f"removed {url}{note}", markup=False)


@feeds_app.command("import")
def import_opml(path: Path) -> None:
    """Add every feed of an OPML file to the registry."""
    from services.opml import parse_opml

    try:
        found = parse_opml(path.read_bytes(), source=str(path))
    except OSError as exc:
        err.print(f"error: cannot read {path} ({exc.strerror})", markup=False)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    with _registry(_settings()) as registry:
        created = sum(registry.add(f) for f in found)
    out.print(f"imported {len(found)} feeds ({created} new) from {path}", markup=False)


@feeds_app.command()
def export(
    path: Annotated[Path | None, typer.Argument(help="Output file (default: stdout).")] = None,
    feeds: FeedsOpt = None,
) -> None:
    """Write the merged feed list as OPML."""
    from services.opml import to_opml

    settings = _settings()
    file_feeds = _file_feeds(settings, feeds)
    with _registry(settings) as registry:
        document = to_opml(registry.merge(file_feeds))
    if path is None:
        sys.stdout.buffer.write(document)
    else:
        path.write_bytes(document)
        out.print(f"wrote {path}", markup=False)


@feeds_app.command()
def discover(
    url: str,
    add_first: Annotated[bool, typer.Option("--add", help="Add the first feed found.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Find feeds on a page (rel=alternate links, then common paths)."""
    settings = _settings()
    try:
        found = asyncio.run(_discover(settings, _http_url(url)))
    except FetchRefused as exc:
        err.print(f"refused: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except FetchError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if not found:
        err.print(f"error: no feed found at {url}", markup=False)
        raise typer.Exit(1)
    for feed in found:
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(asdict(feed)) + b"\n")
        else:
            out.print(f"{feed.url}\t{feed.kind}\t{feed.title or ''}\t({feed.via})", markup=False)
    if add_first:
        with _registry(settings) as registry:
            registry.add(FeedSource(url=found[0].url, name=found[0].title))


async def _discover(settings: Settings, url: str) -> list[Any]:
    from services.discover import discover as run_discover
    from services.runtime import fetcher_from_settings

    fetcher = fetcher_from_settings(settings)
    try:
        return await run_discover(fetcher, url)
    finally:
        await fetcher.aclose()
