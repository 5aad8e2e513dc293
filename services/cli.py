"""The `newswire` command (design.md §3.1). Exit codes: 0 ok, 1 runtime failure, 2 bad input."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import redis
import typer
from rich.console import Console

from config.logging import configure_logging
from config.settings import Settings, load_settings
from services.cli_feeds import feeds_app
from services.core.errors import ConfigError, EventError, NewswireError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="newswire: news feeds in, events out."
)
app.add_typer(feeds_app, name="feeds", help="The feed registry: list, add, remove, OPML, discover.")
out = Console()
err = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _fail(exc: NewswireError, code: int) -> typer.Exit:
    err.print(f"error: {exc}", markup=False, highlight=False)
    return typer.Exit(code)


@app.command()
def run(
    feeds: Annotated[Path | None, typer.Option(help="Feeds file (YAML).")] = None,
    once: Annotated[
        bool, typer.Option(help="Poll every feed once, wait, summarise, exit.")
    ] = False,
) -> None:
    """Run pollers and workers (embedded Redis unless NEWSWIRE_REDIS_URL is set)."""
    from services.runner import run as run_service

    settings = _settings()
    try:
        summary = run_service(settings, feeds or settings.feeds_file, once=once)
    except ConfigError as exc:
        raise _fail(exc, 2) from None
    if once:
        from services.report import print_summary

        print_summary(out, summary)


@app.command()
def poller(feeds: Annotated[Path | None, typer.Option(help="Feeds file (YAML).")] = None) -> None:
    """Run the poller only (workers run separately: `celery -A workers.celery_app worker`)."""
    from services.runner import run as run_service

    settings = _settings()
    if not settings.redis_url:
        err.print("error: NEWSWIRE_REDIS_URL must be set for a standalone poller")
        raise typer.Exit(2)
    try:
        run_service(settings, feeds or settings.feeds_file, once=False, with_worker=False)
    except ConfigError as exc:
        raise _fail(exc, 2) from None


@app.command()
def demo() -> None:
    """Poll the bundled demo feeds from a local server (offline), then show the events."""
    from services.demo.run import run_demo

    settings = _settings()
    try:
        run_demo(settings, out)
    except ConfigError as exc:
        raise _fail(exc, 2) from None


@app.command()
def subscribe(
    topic: Annotated[str | None, typer.Option(help="Topic slug; default: all articles.")] = None,
    stream: Annotated[str | None, typer.Option(help="Raw stream name, e.g. duplicates.")] = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (at-least-once, acks).")] = None,
    consumer: Annotated[str | None, typer.Option(help="Consumer name within the group.")] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Replay from the first entry.")
    ] = False,
    count: Annotated[int | None, typer.Option(min=1, help="Exit after N events.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json | pretty")] = "pretty",
    block_ms: Annotated[int, typer.Option(help="How long each read blocks (ms).")] = 1000,
    idle_exit_s: Annotated[
        float | None, typer.Option(help="Exit after this long with no event.")
    ] = None,
) -> None:
    """Print events from a stream, one JSON object per line with --format json."""
    from services.subscribe_cli import stream_events

    if fmt not in ("json", "pretty"):
        err.print("error: --format must be json or pretty")
        raise typer.Exit(2)
    settings = _settings()
    name = f"topic:{topic}" if topic else (stream or "articles")
    try:
        stream_events(
            settings, out, settings.stream_key(name), group=group, consumer=consumer,
            from_start=from_start, count=count, fmt=fmt, block_ms=block_ms, idle_exit_s=idle_exit_s,
        )  # fmt: skip
    except EventError as exc:
        raise _fail(exc, 1) from None
    except redis.RedisError as exc:
        err.print(f"error: Redis: {exc}", markup=False)
        raise typer.Exit(1) from None


def _jsonl(source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")  # noqa: SIM115
    with handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    item = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    err.print(f"error: line {number}: not JSON ({exc})", markup=False)
                    raise typer.Exit(2) from None
                if not isinstance(item, dict):
                    err.print(f"error: line {number}: expected a JSON object", markup=False)
                    raise typer.Exit(2)
                yield number, item


def _item_text(item: dict[str, Any]) -> tuple[str, str]:
    from services.core.normalise import plain_text

    body = item.get("description") or item.get("summary") or item.get("content") or ""
    return plain_text(str(item.get("title") or "")), plain_text(str(body))


@app.command()
def classify(
    source: Annotated[str, typer.Argument(help="JSONL file or - for stdin")] = "-",
) -> None:
    """Classify JSONL items with the workers' code path; one JSON line out per line in."""
    from services.core.classify import Classifier
    from services.core.enrich import enrich
    from services.core.taxonomy import load_taxonomy

    settings = _settings()
    try:
        classifier = Classifier(load_taxonomy(settings.topics_file))
    except ConfigError as exc:
        raise _fail(exc, 2) from None
    for _, item in _jsonl(source):
        title, text = _item_text(item)
        topics = classifier.classify(title, text)
        extra = enrich(title, text)
        record = {
            "topics": [t.model_dump(mode="json") for t in topics],
            "language": extra.language.model_dump() if extra.language else None,
            "entities": extra.entities.model_dump(mode="json"),
            "keyphrases": list(extra.keyphrases),
            "word_count": extra.word_count,
        }
        sys.stdout.buffer.write(orjson.dumps(record) + b"\n")


dedupe_app = typer.Typer(help="Duplicate detection with the workers' decision logic.")
app.add_typer(dedupe_app, name="dedupe")


@dedupe_app.command("check")
def dedupe_check(
    source: Annotated[str, typer.Argument(help="JSONL file or - for stdin")] = "-",
) -> None:
    """JSONL {"a": item, "b": item} in; {"duplicate", "score", "method"} out, line by line."""
    from services.dedupe_cli import dedupe_check_lines

    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")  # noqa: SIM115
    with handle:
        try:
            for line in dedupe_check_lines(handle):
                sys.stdout.write(line + "\n")
        except ValueError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(2) from None


@app.command()
def fetch(url: str) -> None:
    """One guarded fetch + parse; prints the normalised articles as JSONL."""
    from services.fetch_cli import fetch_and_print

    settings = _settings()
    raise typer.Exit(fetch_and_print(settings, url))


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    feeds: Annotated[Path | None, typer.Option(help="Feeds file (YAML).")] = None,
) -> None:
    """Feed health, stream lengths, consumer-group lag, DLQ size and workers."""
    from services.status_cli import show_status

    settings = _settings()
    try:
        show_status(settings, out, feeds or settings.feeds_file, as_json=as_json)
    except ConfigError as exc:
        raise _fail(exc, 2) from None
    except redis.RedisError as exc:
        err.print(f"error: Redis: {exc}", markup=False)
        raise typer.Exit(1) from None


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Serve the live dashboard (per-topic rates, latest articles, feed health, DLQ)."""
    from services.status_cli import serve_dashboard_until_stopped

    settings = _settings()
    serve_dashboard_until_stopped(settings, out, host, port)


@app.command()
def reclassify(
    since: Annotated[str, typer.Option(help="How far back: 90m, 24h, 7d, 1w.")] = "24h",
) -> None:
    """Re-score recent articles with the current taxonomy; emit article.reclassified."""
    from services.reclassify import parse_duration
    from services.reclassify_cli import run_reclassify

    settings = _settings()
    try:
        window = parse_duration(since)
    except ValueError as exc:
        err.print(f"error: --since: {exc}", markup=False)
        raise typer.Exit(2) from None
    try:
        scanned, written = run_reclassify(settings, window)
    except ConfigError as exc:
        raise _fail(exc, 2) from None
    out.print(f"scanned {scanned} articles, {written} reclassified")


dlq_app = typer.Typer(no_args_is_help=True, help="The dead-letter stream: list and replay.")
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    count: Annotated[int, typer.Option(help="How many entries, oldest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what workers could not process (oldest first), with the reason."""
    from services.dlq_cli import list_dead_letters

    list_dead_letters(_settings(), out, count=count, as_json=as_json)


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Entry ids (default: the oldest).")
    ] = None,
    count: Annotated[int, typer.Option(help="Without ids: how many of the oldest.")] = 50,
) -> None:
    """Queue dead-lettered articles for the workers again; each replayed entry is removed."""
    from services.dlq_cli import replay_dead_letters

    settings = _settings()
    try:
        report = replay_dead_letters(settings, ids or [], count=count)
    except KeyError as exc:
        err.print(f"error: no DLQ entry {exc.args[0]}", markup=False)
        raise typer.Exit(2) from None
    out.print(f"replayed {len(report.replayed)} entries ({report.articles} articles)")
    for entry_id, problem in report.skipped.items():
        err.print(f"skipped {entry_id}: {problem}", markup=False, highlight=False)
    raise typer.Exit(1 if report.skipped else 0)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
