"""Redis script calls made in one event-loop turn share one pipelined round trip.

The poller's claim (before a fetch) and finish (after it) are one Lua call each per feed;
with many feeds in flight, those issued in the same turn of the loop go out together.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis
from redis.commands.core import Script


class Coalescer:
    """Queue script calls; the first call of a turn schedules one pipelined flush."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._queue: list[tuple[Script, list[Any], list[Any], asyncio.Future[Any]]] = []

    async def call(self, script: Script, keys: list[Any], args: list[Any]) -> Any:
        """`script(keys, args)`, sent with every other call queued in this turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((script, keys, args, future))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        pipe = self._client.pipeline(transaction=False)
        for script, keys, args, _ in queue:
            script(keys=keys, args=args, client=pipe)
        try:
            replies = pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection failed: every caller sees it
            for *_, future in queue:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), reply in zip(queue, replies, strict=True):
            if future.done():  # the caller was cancelled meanwhile
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
