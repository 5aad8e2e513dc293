import random

from services.poller.hints import FeedHints
from services.poller.schedule import (
    Interval,
    entry_rate,
    failure_delay,
    next_poll_delay,
    success_delay,
)

INTERVAL = Interval(min_s=300, max_s=86400, default_s=900)
NOW = 1_700_000_000.0  # Tue 2023-11-14 22:13:20 UTC


def test_success_uses_default_with_jitter() -> None:
    delays = {
        next_poll_delay(ok=True, consecutive_errors=0, interval=INTERVAL, rng=random.Random(i))[0]
        for i in range(20)
    }
    assert all(810 <= d <= 990 for d in delays)
    assert len(delays) > 1


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    first, reason = next_poll_delay(
        ok=False, consecutive_errors=1, interval=INTERVAL, error_class="timeout", rng=rng
    )
    third, _ = next_poll_delay(
        ok=False, consecutive_errors=3, interval=INTERVAL, error_class="timeout", rng=rng
    )
    huge, why = next_poll_delay(ok=False, consecutive_errors=40, interval=INTERVAL, rng=rng)
    assert 240 <= first <= 360
    assert third > 2 * first
    assert huge == INTERVAL.max_s and "capped" in why
    assert "backoff (timeout)" in reason


def test_backoff_depends_on_error_class() -> None:
    rng = random.Random(3)
    timeout, _ = failure_delay(
        error_class="timeout", consecutive_errors=1, interval=INTERVAL, rng=rng
    )
    tls, _ = failure_delay(error_class="tls", consecutive_errors=1, interval=INTERVAL, rng=rng)
    assert tls > 2 * timeout


def test_retry_after_is_a_floor() -> None:
    delay, reason = next_poll_delay(
        ok=False,
        consecutive_errors=1,
        interval=INTERVAL,
        retry_after_s=1200,
        error_class="http_429",
    )
    assert 1200 <= delay <= 1320
    assert "retry after 1200s" in reason
    capped, _ = failure_delay(
        error_class="http_429", consecutive_errors=1, interval=INTERVAL, retry_after_s=10**9
    )
    assert capped == INTERVAL.max_s


def test_entry_rate_from_dates() -> None:
    assert entry_rate([], NOW) is None
    assert entry_rate([NOW - 30 * 86400], NOW) == 0.0
    ten_in_ten_hours = [NOW - 3600 * i for i in range(1, 11)]
    assert abs(entry_rate(ten_in_ten_hours, NOW) - 10 / 36000) < 1e-9  # type: ignore[operator]


def test_rate_sets_interval_within_bounds() -> None:
    rng = random.Random(0)
    busy, why = success_delay(interval=INTERVAL, now=NOW, rate_per_s=1 / 60, rng=rng)
    hourly, _ = success_delay(interval=INTERVAL, now=NOW, rate_per_s=1 / 3600, rng=rng)
    idle, idle_why = success_delay(interval=INTERVAL, now=NOW, rate_per_s=0.0, rng=rng)
    assert INTERVAL.min_s <= busy <= INTERVAL.min_s * 1.1 and "entry rate" in why
    assert 3240 <= hourly <= 3960
    assert 0.9 * INTERVAL.max_s <= idle <= INTERVAL.max_s and "no entry" in idle_why


def test_hints_are_not_before_bounds() -> None:
    rng = random.Random(0)
    delay, why = success_delay(interval=INTERVAL, now=NOW, hints=FeedHints(ttl_s=7200), rng=rng)
    assert delay == 7200 and "rss ttl" in why
    short, _ = success_delay(interval=INTERVAL, now=NOW, hints=FeedHints(max_age_s=60), rng=rng)
    assert 810 <= short <= 990  # a hint never makes us poll sooner
    huge, _ = success_delay(
        interval=INTERVAL, now=NOW, hints=FeedHints(sy_period_s=30 * 86400), rng=rng
    )
    assert huge == INTERVAL.max_s


def test_skip_hours_move_the_poll() -> None:
    hints = FeedHints(skip_hours=frozenset({22, 23, 0, 1}))  # NOW is 22:13 UTC
    delay, why = success_delay(interval=INTERVAL, now=NOW, hints=hints, rng=random.Random(0))
    assert "skipHours" in why
    assert abs((NOW + delay) % 86400 - 2 * 3600) < 1  # 02:00 UTC


def test_websub_fallback_slows_polling() -> None:
    delay, why = success_delay(
        interval=INTERVAL, now=NOW, push_fallback_s=21600, rng=random.Random(0)
    )
    assert delay >= 21600 * 0.9 and "WebSub" in why
