"""Celery tasks: validate the payload, call the pipeline, own the retry policy. Nothing else.

Each processed article gets one canonical log line (`article.processed`); the poller's
correlation id (task header `correlation_id`) is bound to every line of the task.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import redis
import structlog
from celery import Task
from pydantic import ValidationError

from services import metrics
from services.core.enrich import enrich
from services.core.errors import PublishError
from services.core.models import Article
from services.pipeline import BatchReport
from services.pipeline import process_batch as run_pipeline
from workers.celery_app import app
from workers.context import worker_context

PROCESS_BATCH = "newswire.process_batch"
# not "correlation_id": Celery overwrites that with the task id (an AMQP message property)
CORRELATION_HEADER = "newswire_correlation_id"
log = structlog.get_logger("newswire.worker")


RETRYABLE = (PublishError, redis.ConnectionError, redis.TimeoutError)


@app.task(name=PROCESS_BATCH, bind=True, max_retries=10)
def process_batch(self: Task[Any, Any], articles: list[dict[str, Any]]) -> dict[str, object]:
    """Dedupe, classify, enrich and publish one batch; retry transient failures with backoff."""
    correlation_id = str(self.request.get(CORRELATION_HEADER) or self.request.id)
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id, task_id=self.request.id)
    try:
        return _process(articles)
    except RETRYABLE as exc:
        if self.request.retries >= (self.max_retries or 0):
            worker_context().dead_letter(
                articles, f"gave up after {self.request.retries} retries: {exc}"
            )
            raise
        # exponential backoff with full jitter; the correlation id header travels on
        countdown = random.uniform(0, min(300, 2**self.request.retries))
        raise self.retry(
            exc=exc, countdown=countdown, headers={CORRELATION_HEADER: correlation_id}
        ) from exc
    finally:
        structlog.contextvars.unbind_contextvars("correlation_id", "task_id")


def _valid_articles(articles: list[dict[str, Any]]) -> tuple[list[Article], int]:
    """The batch's valid articles; invalid ones go to the DLQ (one entry) without sinking the
    rest. Returns (valid articles, how many were rejected)."""
    batch, rejected, errors = [], [], []
    for item in articles:
        try:
            batch.append(Article.model_validate(item))
        except ValidationError as exc:
            rejected.append(item)
            errors.append(str(exc))
    if rejected:
        worker_context().dead_letter(rejected, f"invalid article payload: {errors[0]}")
        log.error("batch.rejected", error=errors[0][:500], rejected=len(rejected),
                  size=len(articles))  # fmt: skip
    return batch, len(rejected)


def _process(articles: list[dict[str, Any]]) -> dict[str, object]:
    ctx = worker_context()
    batch, rejected = _valid_articles(articles)
    report = run_pipeline(
        batch,
        classifier=ctx.topics.classifier(),
        enricher=enrich,
        publisher=ctx.publisher,
        peek=ctx.peek,
    )
    _observe(report)
    if report.unsettled:  # settled articles are logged; a retry replays them harmlessly
        raise PublishError(f"{report.unsettled} articles kept racing other workers: retrying")
    return {**report.as_dict(), "rejected": rejected}


def _observe(report: BatchReport) -> None:
    """One log line per article, and the batch's metrics."""
    now = datetime.now(UTC)
    per_article = {k: v / max(len(report.results), 1) for k, v in report.stage_seconds.items()}
    for result in report.results:
        if result.status == "unsettled":
            continue
        log.info(
            "article.processed",
            article_id=result.article_id,
            story_id=result.story_id,
            status=result.status,
            topics=dict(result.topics),
            duplicate_of=result.duplicate_of,
            stream_ids=list(result.stream_ids),
            stage_seconds={k: round(v, 6) for k, v in per_article.items()},
        )
        if result.status == "published":
            metrics.observe_e2e((now - result.fetched_at).total_seconds())
    metrics.observe_batch(
        report.published,
        report.duplicates + report.near_duplicates,
        report.topics,
        report.stage_seconds,
        updated=report.updated,
        replayed=report.replayed,
    )
