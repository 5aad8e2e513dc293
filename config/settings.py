"""All tunables in one pydantic-settings class.

Environment variables use the prefix ``NEWSWIRE_`` and ``__`` for nesting, e.g.
``NEWSWIRE_FETCH__TIMEOUT_S=10``. Flat aliases that other tools rely on are kept
for the most-used values (``NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.core.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent


class FetchSettings(BaseModel):
    connect_timeout_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(20.0, gt=0, description="Total deadline per fetch, all hops.")
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    user_agent: str = "newswire/0.1 (+{contact})"
    contact_url: str = "https://github.com/newswire/newswire"
    concurrency: int = Field(16, ge=1, le=512)


class PollerSettings(BaseModel):
    min_interval_s: float = Field(300.0, gt=0)
    max_interval_s: float = Field(86400.0, gt=0)
    default_interval_s: float = Field(900.0, gt=0)
    batch_size: int = Field(150, ge=1, le=5000, description="Articles per Celery task.")
    parse_workers: int = Field(
        1, ge=0, le=64, description="Spawn-context parse processes; 0 = parse inline."
    )
    max_entries_per_feed: int = Field(1000, ge=1)
    tick_s: float = Field(1.0, gt=0)
    degraded_after: int = Field(5, ge=1, description="Consecutive failures before feed.degraded.")
    moved_after: int = Field(3, ge=1, description="Consistent 301/308 sightings before feed.moved.")
    lease_s: float = Field(120.0, gt=0, description="One replica fetches a feed at a time.")
    host_concurrency: int = Field(2, ge=1, description="Fetches in flight per host, all replicas.")
    host_spacing_s: float = Field(0.25, ge=0, description="Minimum spacing of requests per host.")
    host_max_wait_s: float = Field(60.0, gt=0)
    websub_fallback_s: float = Field(6 * 3600.0, gt=0, description="Poll interval of pushed feeds.")


class WebSubSettings(BaseModel):
    """WebSub (PubSubHubbub) subscriptions for feeds that advertise rel=hub."""

    enabled: bool = False
    callback_base_url: str | None = Field(
        None, description="Public URL under which the hub reaches our callback endpoint."
    )
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(8089, ge=0, le=65535)
    lease_s: int = Field(10 * 86400, ge=60)
    max_push_bytes: int = Field(3 * 1024 * 1024, gt=0)


class WorkerSettings(BaseModel):
    concurrency: int = Field(2, ge=1, le=64)
    prefetch_multiplier: int = Field(1, ge=1)
    queue: str = "newswire"
    send_task_events: bool = Field(True, description="Celery task events (Flower needs them).")


class ObservabilitySettings(BaseModel):
    """Ports of the /healthz, /readyz and /metrics endpoints; 0 = a free port, -1 = off."""

    host: str = "0.0.0.0"  # noqa: S104 - probes and scrapes come from outside the container
    poller_port: int = Field(9101, ge=-1, le=65535)
    worker_port: int = Field(9102, ge=-1, le=65535)


class StreamSettings(BaseModel):
    maxlen_articles: int = Field(1_000_000, ge=100)
    maxlen_topic: int = Field(200_000, ge=100)
    maxlen_other: int = Field(100_000, ge=100)
    dedupe_window_s: int = Field(30 * 86400, ge=60, description="Identity keys expire after this.")
    near_dup_window_s: int = Field(
        72 * 3600, ge=3600, description="How long near-duplicate state (LSH bands) is kept."
    )


class Settings(BaseSettings):
    """newswire settings. Every field can be set with an env var ``NEWSWIRE_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSWIRE_",
        env_nested_delimiter="__",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    redis_url: str | None = Field(
        None, description="Redis URL; unset → an embedded redis-server is started."
    )
    data_dir: Path = Path(".newswire")
    stream_prefix: str = Field("newswire", pattern=r"^[A-Za-z0-9_.-]+$")
    feeds_file: Path = CONFIG_DIR / "feeds.yaml"
    topics_file: Path = CONFIG_DIR / "topics.yaml"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    fetch_allow_private_networks: bool = Field(
        False,
        validation_alias=AliasChoices(
            "NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS", "fetch_allow_private_networks"
        ),
    )
    fetch: FetchSettings = FetchSettings()
    poller: PollerSettings = PollerSettings()
    worker: WorkerSettings = WorkerSettings()
    streams: StreamSettings = StreamSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    websub: WebSubSettings = WebSubSettings()

    def stream_key(self, name: str) -> str:
        return f"{self.stream_prefix}:{name}"


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        var = "NEWSWIRE_" + "__".join(loc).upper()
        lines.append(f"{var}: {item['msg']} (got {item.get('input')!r})")
    return "invalid settings: " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings from env/.env (+ overrides); a bad value raises ConfigError naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings for entry points (cached)."""
    return load_settings()
