"""`newswire demo`: the real pipeline, offline, against the demo feeds served on 127.0.0.1."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import redis
import yaml
from rich.console import Console

from config.settings import Settings
from services.adapters.keys import Keys
from services.demo.server import FeedServer
from services.report import print_summary
from services.runner import run
from services.runtime import redis_url_for
from services.subscriber import StreamSubscriber


def demo_feeds_dir() -> Path:
    return Path(str(resources.files("services.demo").joinpath("feeds")))


def run_demo(settings: Settings, console: Console) -> None:
    # The demo server is on loopback, which the fetch guard refuses by default.
    local = settings.model_copy(update={"fetch_allow_private_networks": True})
    with FeedServer.from_directory(demo_feeds_dir()) as server, redis_url_for(local) as url:
        feeds_file = local.data_dir / "demo-feeds.yaml"
        feeds_file.parent.mkdir(parents=True, exist_ok=True)
        entries = [{"url": server.url(path), "name": path.strip("/")} for path in server.documents]
        feeds_file.write_text(yaml.safe_dump({"feeds": entries}), "utf-8")
        console.print(f"[bold]demo[/]: {len(entries)} feeds on {server.url('/')}, Redis at {url}")
        summary = run(local, feeds_file, once=True, redis_url=url)
        print_summary(console, summary)
        _show_latest(console, url, Keys(local.stream_prefix))


def _show_latest(console: Console, url: str, keys: Keys, limit: int = 20) -> None:
    client = redis.Redis.from_url(url)
    try:
        sub = StreamSubscriber(client, keys.articles, from_start=True)
        for delivery in sub.read_batch(block_ms=None, batch=limit):
            event = delivery.event()
            topics = ", ".join(f"{t.slug} ({t.score:.2f})" for t in event.topics) or "-"
            console.print(
                f"[green]{delivery.type}[/] {event.title}\n    topics: {topics}", highlight=False
            )
    finally:
        client.close()
