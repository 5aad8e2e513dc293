"""Celery tasks: validate the payload, call the pipeline, own the retry policy. Nothing else."""

from __future__ import annotations

from typing import Any

import redis
from celery import Task
from pydantic import ValidationError

from services.core.enrich import enrich
from services.core.errors import PublishError
from services.core.models import Article
from services.pipeline import process_batch as run_pipeline
from workers.celery_app import app
from workers.context import worker_context

PROCESS_BATCH = "newswire.process_batch"


@app.task(
    name=PROCESS_BATCH,
    bind=True,
    autoretry_for=(PublishError, redis.ConnectionError, redis.TimeoutError),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def process_batch(self: Task[Any, Any], articles: list[dict[str, Any]]) -> dict[str, object]:
    """Dedupe, classify, enrich and publish one batch of normalised articles."""
    ctx = worker_context()
    try:
        batch = [Article.model_validate(item) for item in articles]
    except ValidationError as exc:
        ctx.dead_letter(articles, f"invalid article payload: {exc}")
        return {"published": 0, "duplicates": 0, "replayed": 0, "topics": {}, "rejected": 1}
    report = run_pipeline(
        batch,
        classifier=ctx.topics.classifier(),
        enricher=enrich,
        publisher=ctx.publisher,
    )
    return report.as_dict()
