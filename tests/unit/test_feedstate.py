"""FeedState round trip and the `finish` script's arguments (no server needed to build them)."""

from __future__ import annotations

import redis

from services.adapters.feedstate import FeedState, Held, RedisFeedStore
from services.adapters.keys import Keys


def written_fields(args: list[str | int]) -> dict[str, str]:
    count = int(args[5])
    pairs = [str(a) for a in args[6 : 6 + 2 * count]]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def store() -> RedisFeedStore:
    return RedisFeedStore(redis.Redis(), Keys("test"))  # register_script does not connect


def test_from_redis_reads_every_type_and_keeps_defaults_for_missing_fields() -> None:
    state = FeedState.from_redis(
        {b"etag": b'"x"', b"consecutive_errors": b"3", b"next_poll_at": b"1.5"}
    )
    assert (state.etag, state.consecutive_errors, state.next_poll_at) == ('"x"', 3, 1.5)
    assert state.status == "new" and state.title == ""


def test_finish_writes_every_field_without_a_snapshot() -> None:
    state = FeedState(etag='"x"')
    _, args = store().finish_args("f_1", state, Held())
    assert written_fields(args) == {k: str(v) for k, v in state.as_mapping().items()}


def test_finish_writes_only_what_changed_since_the_claim() -> None:
    state = FeedState(etag='"x"', status="ok", consecutive_errors=2)
    loaded = state.as_mapping()
    state.consecutive_errors, state.next_poll_at = 0, 99.0
    _, args = store().finish_args("f_1", state, Held(), loaded=loaded)
    assert written_fields(args) == {"consecutive_errors": "0", "next_poll_at": "99.0"}
