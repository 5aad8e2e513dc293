"""The newswire error tree. Every error carries a one-line, actionable message.

NewswireError
├── ConfigError                 bad settings, feeds or topics file
├── FetchError                  a feed could not be fetched
│   ├── TransientFetchError     worth retrying later (timeouts, 5xx, 429, DNS, connect)
│   └── PermanentFetchError     retrying will not help as is (4xx, refused by policy)
│       └── FetchRefused        blocked by a safety rule (scheme, SSRF, size caps)
├── ParseError                  a document is not a feed at all
├── EventError                  a malformed event on a stream
└── PublishError                Redis refused a publish
"""

from __future__ import annotations


class NewswireError(Exception):
    """Root of every error newswire raises on purpose."""


class ConfigError(NewswireError):
    """A settings value, feeds file or topics file is invalid."""


class FetchError(NewswireError):
    """A feed could not be fetched. `error_class` is a short label for logs and metrics."""

    error_class = "fetch"

    def __init__(self, message: str, *, error_class: str | None = None) -> None:
        super().__init__(message)
        if error_class is not None:
            self.error_class = error_class


class TransientFetchError(FetchError):
    error_class = "transient"


class PermanentFetchError(FetchError):
    error_class = "permanent"


class FetchRefused(PermanentFetchError):
    error_class = "refused"


class ParseError(NewswireError):
    """A document could not be read as RSS, Atom, RDF or JSON Feed."""


class EventError(NewswireError):
    """A stream entry does not hold a valid event."""


class PublishError(NewswireError):
    """Publishing to Redis failed."""
