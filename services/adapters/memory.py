"""In-memory fakes of the adapters, for unit tests of the pipeline and poller."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.pipeline import Publication, PublishOutcome


@dataclass
class InMemoryPublisher:
    """Same claim semantics as the Redis publisher, held in dicts."""

    owners: dict[str, str] = field(default_factory=dict)
    streams: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def publish(self, items: Sequence[Publication]) -> list[PublishOutcome]:
        return [self._publish_one(item) for item in items]

    def _publish_one(self, item: Publication) -> PublishOutcome:
        for key in item.identity_keys:
            owner = self.owners.get(key)
            if owner is not None:
                status = "replayed" if owner == item.event.id else "duplicate"
                return PublishOutcome(status=status, existing_id=owner)
        for key in item.identity_keys:
            self.owners[key] = item.event.id
        ids = [self._append("articles", item)]
        ids += [self._append(f"topic:{slug}", item) for slug in item.topics]
        return PublishOutcome(status="published", stream_ids=tuple(ids))

    def _append(self, stream: str, item: Publication) -> str:
        entries = self.streams.setdefault(stream, [])
        entry_id = f"{len(entries) + 1}-0"
        entries.append((entry_id, item.data))
        return entry_id
