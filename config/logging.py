"""structlog set-up: JSON lines when not on a TTY (containers), a readable console on a TTY.

Standard-library records (Celery, aiohttp) go through the same processors, so every line
has one format. Secrets in URLs (passwords) are masked.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import orjson
import structlog

_SECRET_IN_URL = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]+@")


def redact(text: str) -> str:
    """Mask the password of any URL in `text`."""
    return _SECRET_IN_URL.sub(r"\1***@", text)


def _redact_processor(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and "@" in value:
            event[key] = redact(value)
    return event


def _orjson_text(obj: Any, default: Any = None, **_: Any) -> str:
    """structlog's JSON serializer hook on orjson (one line per poll: the stdlib json is slow)."""
    return orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS).decode()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_text)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    # the real stderr: Celery may swap sys.stderr for a buffering LoggingProxy
    handler = logging.StreamHandler(sys.__stderr__ or sys.stderr)
    handler.setFormatter(formatter)
    # No caller lookup (a frame walk) per record: our lines never show file or line. This is
    # the switch the logging HOWTO's "Optimization" section documents.
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
