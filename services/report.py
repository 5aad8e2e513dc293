"""Human-readable summaries (rich tables) for `run --once` and `demo`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from services.runner import RunSummary


def print_summary(console: Console, summary: RunSummary) -> None:
    feeds = Table(title="feeds", show_header=True)
    for column in ("ok", "unchanged", "failed"):
        feeds.add_column(column, justify="right")
    feeds.add_row(str(summary.feeds_ok), str(summary.feeds_unchanged), str(summary.feeds_failed))
    articles = Table(title="articles", show_header=True)
    for column in ("new", "published", "duplicate", "near-duplicate", "updated"):
        articles.add_column(column, justify="right")
    articles.add_row(
        *(str(n) for n in (summary.articles_new, summary.published, summary.duplicates,
                           summary.near_duplicates, summary.updated))
    )  # fmt: skip
    topics = Table(title="topics", show_header=True)
    topics.add_column("topic")
    topics.add_column("published", justify="right")
    for slug, n in sorted(summary.topics.items()):
        topics.add_row(slug, str(n))
    console.print(feeds, articles, topics)
    for failure in summary.failures:
        console.print(
            f"[red]failed[/] {failure.feed.url}: {failure.error_class}: {failure.error}",
            highlight=False,
        )
