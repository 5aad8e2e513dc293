"""`newswire fetch URL`: exactly the poller's guarded fetch + digest, printed as JSONL."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from config.settings import Settings
from services.adapters.fetcher import FetchResult
from services.core.errors import FetchError, FetchRefused, ParseError
from services.core.ids import feed_id
from services.poller.digest import digest
from services.runtime import fetcher_from_settings


async def _fetch(settings: Settings, url: str) -> FetchResult:
    fetcher = fetcher_from_settings(settings)
    try:
        return await fetcher.fetch(url)
    finally:
        await fetcher.aclose()


def fetch_and_print(settings: Settings, url: str) -> int:
    """Exit code: 0 ok, 2 refused or not a feed, 1 fetch failure."""
    try:
        result = asyncio.run(_fetch(settings, url))
        if result.body is None:
            return 0
        parsed = digest(
            result.body,
            feed_id=feed_id(url),
            feed_url=result.url,
            fetched_at=datetime.now(UTC),
            max_entries=settings.poller.max_entries_per_feed,
            content_type=result.headers.get("content-type"),
        )
    except (FetchRefused, ParseError) as exc:
        print(
            f"refused: {exc}" if isinstance(exc, FetchRefused) else f"error: {exc}", file=sys.stderr
        )
        return 2
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for article in parsed.articles:
        sys.stdout.write(article.model_dump_json() + "\n")
    return 0
