"""Redis script calls made in one event-loop turn share one pipelined round trip.

The poller's claim (before a fetch) and finish (after it) are one Lua call each per feed;
with many feeds in flight, those issued in the same turn of the loop go out together.
Calls go out as EVALSHA: redis-py's pipelined `Script` call would first ask SCRIPT EXISTS
in a round trip of its own on every flush. Each script is loaded once, on first use; if
the server lost it since (restarted, flushed), it is loaded again and its calls re-sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

Call = tuple[Script, list[Any], list[Any], "asyncio.Future[Any]"]


class Coalescer:
    """Queue script calls; the first call of a turn schedules one pipelined flush."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._queue: list[Call] = []
        self._loaded: set[str] = set()

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
        try:
            self._load({c[0] for c in queue if c[0].sha not in self._loaded})
            replies = self._send(queue)
            lost = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if lost:
                self._load({queue[i][0] for i in lost})
                for i, reply in zip(lost, self._send([queue[i] for i in lost]), strict=True):
                    replies[i] = reply
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

    def _load(self, scripts: set[Script]) -> None:
        for script in scripts:
            script.sha = self._client.script_load(script.script)
            self._loaded.add(script.sha)

    def _send(self, calls: list[Call]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for script, keys, args, _ in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return list(pipe.execute(raise_on_error=False))
