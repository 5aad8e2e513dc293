"""Every Redis key newswire uses, built from one prefix (NEWSWIRE_STREAM_PREFIX)."""

from __future__ import annotations

from dataclasses import dataclass

from services.core.ids import short_hash


@dataclass(frozen=True)
class Keys:
    prefix: str = "newswire"

    @property
    def articles(self) -> str:
        return f"{self.prefix}:articles"

    @property
    def duplicates(self) -> str:
        return f"{self.prefix}:duplicates"

    @property
    def feeds_stream(self) -> str:
        return f"{self.prefix}:feeds"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}:dlq"

    @property
    def schedule(self) -> str:
        return f"{self.prefix}:schedule"

    def topic(self, slug: str) -> str:
        return f"{self.prefix}:topic:{slug}"

    def identity(self, key: str) -> str:
        """Identity keys are hashed: bounded size whatever the URL or GUID length."""
        return f"{self.prefix}:seen:{short_hash(key, 24)}"

    @property
    def lsh_root(self) -> str:
        """Near-dup band index: hashes ``<lsh_root>:<yyyymmdd>:<band key prefix>``."""
        return f"{self.prefix}:lsh"

    @property
    def sig_root(self) -> str:
        """Near-dup signatures: strings ``<sig_root>:<12-hex handle>``."""
        return f"{self.prefix}:sig"

    def feed_state(self, feed_id: str) -> str:
        return f"{self.prefix}:feed:{feed_id}"
