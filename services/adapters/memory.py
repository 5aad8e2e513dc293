"""In-memory fakes of the adapters, for unit tests of the pipeline and poller."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.pipeline import (
    HOT_BAND,
    Attempt,
    Publication,
    PublishOutcome,
    Reply,
    StoreState,
    run_attempts,
)

MAX_CANDIDATES = 64


@dataclass
class InMemoryPublisher:
    """Same semantics as publish.lua (held in dicts; no expiry, one day bucket).

    ``owners``: identity key → ``"<owner>|<hash>[|<story>]"``; ``bands``: band key →
    concatenated 12-char handles; ``sigs``: handle → stored signature value.
    """

    owners: dict[str, str] = field(default_factory=dict)
    bands: dict[str, str] = field(default_factory=dict)
    sigs: dict[str, bytes] = field(default_factory=dict)
    streams: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    round_trips: int = 0

    def publish(self, items: Sequence[Publication]) -> list[PublishOutcome]:
        return run_attempts(items, self._round_trip) if items else []

    def _round_trip(self, work: Sequence[tuple[Publication, Attempt]]) -> list[Reply]:
        self.round_trips += 1
        return [self._apply(item, attempt) for item, attempt in work]

    def _apply(self, item: Publication, attempt: Attempt) -> Reply:
        token = ""
        for i, key in enumerate(item.identity_keys, start=1):
            if (value := self.owners.get(key)) is not None:
                owner, chash = value.split("|")[:2]
                same_article = item.kinds[i - 1] != "h" or owner == item.event.id
                if chash == item.content_token and same_article:
                    return Reply(status="replayed", values=(owner,))
                token = f"{i}={value}"
                break
        if token != attempt.expect.identity:
            return Reply(status="state", state=self._state(item, token))
        if attempt.mode == "update":
            return self._update(item, attempt, token)
        if attempt.mode == "duplicate":
            return self._duplicate(item, attempt)
        if self._snapshot(item)[0] != attempt.expect.snapshot:
            return Reply(status="state", state=self._state(item, ""))
        return self._publish(item)

    def _snapshot(self, item: Publication) -> tuple[str, list[str]]:
        parts = [self._live(self.bands.get(band, "")) for band in item.band_keys]
        handles = [p[j : j + 12] for p in parts if p != "*" for j in range(0, len(p), 12)]
        if not any(parts):
            return "", handles
        return hashlib.sha1(",".join(parts).encode(), usedforsecurity=False).hexdigest(), handles

    @staticmethod
    def _live(value: str) -> str:
        return "*" if len(value) >= 12 * HOT_BAND else value

    def _state(self, item: Publication, token: str) -> StoreState:
        if token:
            return StoreState(identity=token)
        snap, handles = self._snapshot(item)
        unique = [h for h in dict.fromkeys(handles) if h != item.handle][:MAX_CANDIDATES]
        return StoreState("", snap, tuple(self.sigs[h] for h in unique if h in self.sigs))

    def _update(self, item: Publication, attempt: Attempt, token: str) -> Reply:
        assert attempt.event is not None
        owner = token.partition("=")[2].split("|")[0]
        story = attempt.event.story.id
        new = f"{owner}|{item.content_token}" + ("" if story == owner else f"|{story}")
        for key in item.identity_keys:
            current = self.owners.get(key)
            if current is None or current.split("|")[0] == owner:
                self.owners[key] = new
        return Reply(status="updated", values=(self._append("articles", attempt),))

    def _duplicate(self, item: Publication, attempt: Attempt) -> Reply:
        assert attempt.event is not None
        mine = f"{item.event.id}|{item.content_token}|{attempt.event.story.id}"
        for key in item.identity_keys:
            self.owners.setdefault(key, mine)
        return Reply(status="duplicate", values=(self._append("duplicates", attempt),))

    def _publish(self, item: Publication) -> Reply:
        for key in item.identity_keys:
            self.owners[key] = f"{item.event.id}|{item.content_token}"
        if item.band_keys:
            self.sigs[item.handle] = item.sig_value
            for band in item.band_keys:
                if self._live(current := self.bands.get(band, "")) != "*":
                    self.bands[band] = current + item.handle
        attempt = Attempt(mode="publish", expect=StoreState(), event=item.event)
        ids = [self._append("articles", attempt)]
        ids += [self._append(f"topic:{slug}", attempt) for slug in item.topics]
        return Reply(status="published", values=tuple(ids))

    def _append(self, stream: str, attempt: Attempt) -> str:
        assert attempt.event is not None
        entries = self.streams.setdefault(stream, [])
        entry_id = f"{len(entries) + 1}-0"
        entries.append((entry_id, attempt.event.model_dump_json()))
        return entry_id
