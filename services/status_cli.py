"""`newswire status` and `newswire dashboard`: read-only views of what Redis holds."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import redis
from rich.console import Console

from config.settings import Settings
from services.adapters.keys import Keys
from services.dashboard import serve_dashboard
from services.feedlist import load_feeds
from services.runtime import redis_url_for
from services.status import Retention, collect_status, render_status


def show_status(settings: Settings, console: Console, feeds_path: Path, *, as_json: bool) -> None:
    from workers.celery_app import configure

    feeds = load_feeds(feeds_path)
    streams = settings.streams
    with redis_url_for(settings) as url:
        client = redis.Redis.from_url(url)
        try:
            report = collect_status(
                client,
                Keys(settings.stream_prefix),
                configure(settings, url),
                feeds,
                retention=Retention(
                    articles=streams.maxlen_articles,
                    topic=streams.maxlen_topic,
                    other=streams.maxlen_other,
                ),
            )
        finally:
            client.close()
    if as_json:
        print(report.model_dump_json())
    else:
        render_status(report, console)


def serve_dashboard_until_stopped(
    settings: Settings, console: Console, host: str, port: int
) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with redis_url_for(settings) as url:
        server = serve_dashboard(url, Keys(settings.stream_prefix), host, port)
        console.print(f"dashboard on {server.url} (Ctrl-C to stop)")
        try:
            stop.wait()
        finally:
            server.stop()
