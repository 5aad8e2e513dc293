"""The dead-letter stream on a real redis-server: parsing entries and the replay protocol."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from services import dlq
from services.adapters.keys import Keys

KEYS = Keys("t")


def _dead_letter(client: redis.Redis, payload: str, error: str = "gave up after 10 retries") -> str:
    fields = {"type": "batch.failed", "error": error, "payload": payload, "at": "2026-11-27T00:00"}
    return client.xadd(KEYS.dlq, fields).decode()  # type: ignore[no-any-return]


def test_entries_are_read_oldest_first_and_bad_payloads_are_flagged(
    redis_client: redis.Redis,
) -> None:
    good = _dead_letter(redis_client, json.dumps([{"id": "a1"}, {"id": "a2"}]))
    cut = _dead_letter(redis_client, '[{"id": "a3", "title": "tru', error="invalid payload")
    odd = _dead_letter(redis_client, json.dumps({"id": "a4"}))
    letters = dlq.read(redis_client, KEYS)
    assert [x.entry_id for x in letters] == [good, cut, odd]
    assert (
        letters[0].articles == [{"id": "a1"}, {"id": "a2"}] and letters[0].as_dict()["replayable"]
    )
    assert letters[1].articles is None and "not JSON" in letters[1].problem
    assert letters[2].articles is None and "not a list" in letters[2].problem
    assert letters[1].error == "invalid payload"


def test_replay_sends_then_deletes_and_keeps_what_it_cannot_replay(
    redis_client: redis.Redis,
) -> None:
    first = _dead_letter(redis_client, json.dumps([{"id": "a1"}]))
    broken = _dead_letter(redis_client, "not json")
    second = _dead_letter(redis_client, json.dumps([{"id": "b1"}, {"id": "b2"}]))
    sent: list[list[dict[str, Any]]] = []
    report = dlq.replay(redis_client, KEYS, dlq.read(redis_client, KEYS), sent.append)
    assert sent == [[{"id": "a1"}], [{"id": "b1"}, {"id": "b2"}]]
    assert report.replayed == [first, second] and report.articles == 3
    assert list(report.skipped) == [broken]
    assert [x.entry_id for x in dlq.read(redis_client, KEYS)] == [broken]


def test_a_failed_send_keeps_the_entry(redis_client: redis.Redis) -> None:
    entry = _dead_letter(redis_client, json.dumps([{"id": "a1"}]))

    def down(_: list[dict[str, Any]]) -> None:
        raise redis.ConnectionError("broker down")

    with pytest.raises(redis.ConnectionError):
        dlq.replay(redis_client, KEYS, dlq.read(redis_client, KEYS), down)
    assert [x.entry_id for x in dlq.read(redis_client, KEYS)] == [entry]
