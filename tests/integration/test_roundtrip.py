"""Script calls issued in one event-loop turn share one pipelined round trip."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from services.poller.roundtrip import Coalescer

pytestmark = pytest.mark.integration

ECHO = "return {KEYS[1], ARGV[1]}"
FAIL = "return redis.error_reply('refused ' .. ARGV[1])"


class CountingClient(redis.Redis):
    pipelines = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        type(self).pipelines += 1
        return super().pipeline(*args, **kwargs)


@pytest.fixture
def client(redis_url: str) -> CountingClient:
    CountingClient.pipelines = 0
    return CountingClient.from_url(redis_url)


def test_calls_of_one_turn_share_a_pipeline_and_keep_their_order(client: CountingClient) -> None:
    echo = client.register_script(ECHO)
    coalescer = Coalescer(client)

    async def main() -> list[Any]:
        calls = [coalescer.call(echo, [f"k{i}"], [i]) for i in range(5)]
        return await asyncio.gather(*calls)

    replies = asyncio.run(main())
    assert replies == [[f"k{i}".encode(), str(i).encode()] for i in range(5)]
    assert CountingClient.pipelines == 1


def test_a_failing_call_fails_only_its_caller(client: CountingClient) -> None:
    echo, fail = client.register_script(ECHO), client.register_script(FAIL)
    coalescer = Coalescer(client)

    async def main() -> list[Any]:
        calls = [coalescer.call(echo, ["a"], [1]), coalescer.call(fail, ["b"], ["x"])]
        return await asyncio.gather(*calls, return_exceptions=True)

    ok, failed = asyncio.run(main())
    assert ok == [b"a", b"1"]
    assert isinstance(failed, redis.ResponseError) and "refused x" in str(failed)


def test_a_script_the_server_lost_is_loaded_again(client: CountingClient) -> None:
    echo = client.register_script(ECHO)
    coalescer = Coalescer(client)

    async def turn(i: int) -> Any:
        return await coalescer.call(echo, ["k"], [i])

    assert asyncio.run(turn(1)) == [b"k", b"1"]
    client.script_flush()  # as after a server restart
    assert asyncio.run(turn(2)) == [b"k", b"2"]
    assert CountingClient.pipelines == 3  # the second turn: NOSCRIPT, load, sent again
