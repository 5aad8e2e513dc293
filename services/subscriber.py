"""StreamSubscriber: read events from a newswire stream, plainly or through a consumer group.

With a group, delivery is at-least-once: this consumer's pending entries (delivered but
not acknowledged before a crash) are re-read first, then new ones; `ack` after handling.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from pydantic import ValidationError

from services.core.errors import EventError
from services.core.models import ArticleEvent


@dataclass(frozen=True)
class Delivery:
    stream: str
    entry_id: str
    type: str
    article_id: str
    schema: str
    data: str
    fields: dict[str, str] = field(default_factory=dict)

    def event(self) -> ArticleEvent:
        """The typed event; EventError when `data` is not a valid v1 event."""
        try:
            return ArticleEvent.model_validate_json(self.data)
        except ValidationError as exc:
            raise EventError(
                f"{self.stream} {self.entry_id}: not a valid {self.schema or 'v1'} event "
                f"({exc.error_count()} error(s), first: {exc.errors()[0]['msg']})"
            ) from None


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class StreamSubscriber:
    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        *,
        group: str | None = None,
        consumer: str | None = None,
        from_start: bool = False,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer or default_consumer_name()
        self._last_id = "0-0" if from_start else "$"
        self._pending_cursor: str | None = "0"
        if group:
            self.ensure_group("0" if from_start else "$")

    def ensure_group(self, start_id: str) -> None:
        """Create the group (and the stream) unless it exists already (BUSYGROUP is fine)."""
        try:
            self.client.xgroup_create(self.stream, self.group or "", id=start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, *, block_ms: int = 1000, batch: int = 100) -> Iterator[Delivery]:
        """Yield deliveries forever (the caller stops iterating)."""
        while True:
            yield from self.read_batch(block_ms=block_ms, batch=batch)

    def read_batch(self, *, block_ms: int | None = 1000, batch: int = 100) -> list[Delivery]:
        """Up to `batch` deliveries; empty after blocking `block_ms` with nothing new."""
        return [_delivery(self.stream, i, f) for i, f in self._fetch(block_ms, batch)]

    def _fetch(self, block_ms: int | None, batch: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        reply: Any
        if self.group is None:
            reply = self.client.xread({self.stream: self._last_id}, count=batch, block=block_ms)
            entries = reply[0][1] if reply else []
            if entries:
                self._last_id = entries[-1][0].decode()
            return list(entries)
        if self._pending_cursor is not None:
            reply = self.client.xreadgroup(
                self.group or "", self.consumer, {self.stream: self._pending_cursor}, count=batch
            )
            entries = reply[0][1] if reply else []
            if entries:
                self._pending_cursor = entries[-1][0].decode()
                return list(entries)
            self._pending_cursor = None
        reply = self.client.xreadgroup(
            self.group or "", self.consumer, {self.stream: ">"}, count=batch, block=block_ms
        )
        return list(reply[0][1]) if reply else []

    def ack(self, delivery: Delivery) -> None:
        if self.group:
            self.client.xack(self.stream, self.group, delivery.entry_id)


def _delivery(stream: str, entry_id: bytes, fields: dict[bytes, bytes]) -> Delivery:
    def text(name: str) -> str:
        return fields.get(name.encode(), b"").decode("utf-8", "replace")

    return Delivery(
        stream=stream,
        entry_id=entry_id.decode(),
        type=text("type"),
        article_id=text("id"),
        schema=text("schema"),
        data=text("data"),
        fields={k.decode("utf-8", "replace"): v.decode("utf-8", "replace")[:2000]
                for k, v in fields.items()},
    )  # fmt: skip
