import random

from services.poller.schedule import Interval, next_poll_delay

INTERVAL = Interval(min_s=300, max_s=86400, default_s=900)


def test_success_uses_default_with_jitter() -> None:
    delays = {next_poll_delay(ok=True, consecutive_errors=0, interval=INTERVAL, rng=random.Random(i))[0] for i in range(20)}
    assert all(810 <= d <= 990 for d in delays)
    assert len(delays) > 1


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    first, reason = next_poll_delay(ok=False, consecutive_errors=1, interval=INTERVAL, rng=rng)
    third, _ = next_poll_delay(ok=False, consecutive_errors=3, interval=INTERVAL, rng=rng)
    huge, _ = next_poll_delay(ok=False, consecutive_errors=40, interval=INTERVAL, rng=rng)
    assert 270 <= first <= 330
    assert third > 2 * first
    assert huge <= INTERVAL.max_s * 1.1
    assert "backoff" in reason


def test_retry_after_is_honoured() -> None:
    delay, reason = next_poll_delay(ok=False, consecutive_errors=1, interval=INTERVAL, retry_after_s=1200)
    assert delay == 1200
    assert "retry after" in reason
