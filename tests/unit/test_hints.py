from services.poller.hints import body_hints, header_hints, not_before, skip_to_allowed

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>t</title><ttl>90</ttl>
<atom:link rel="hub" href="https://hub.example/"/>
<atom:link href='https://feeds.example/rss' rel='self' type="application/rss+xml"/>
<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>
<skipHours><hour>0</hour><hour>1</hour><hour>24</hour></skipHours>
<skipDays><day>Saturday</day><day>Sunday</day><day>Funday</day></skipDays>
<item><title>x</title></item></channel></rss>"""


def test_body_hints() -> None:
    hints = body_hints(RSS)
    assert hints.ttl_s == 5400
    assert hints.sy_period_s == 86400 / 4
    assert hints.skip_hours == {0, 1}
    assert hints.skip_days == {5, 6}
    assert hints.hub_url == "https://hub.example/"
    assert hints.self_url == "https://feeds.example/rss"


def test_no_hints_in_a_plain_feed() -> None:
    hints = body_hints(b"<rss><channel><title>t</title><link>https://x/</link></channel></rss>")
    assert (
        hints.ttl_s is None
        and hints.sy_period_s is None
        and not hints.skip_hours
        and hints.hub_url is None
    )


def test_header_hints() -> None:
    now = 1_700_000_000.0
    h = header_hints(
        {
            "cache-control": "public, max-age=600, s-maxage=1200",
            "expires": "Tue, 14 Nov 2023 23:13:20 GMT",
        },
        now,
    )
    assert h.max_age_s == 1200 and h.expires_at == now + 3600
    assert header_hints({"cache-control": "no-cache, max-age=600"}, now).max_age_s is None
    assert header_hints({"expires": "0"}, now).expires_at is None
    when, why = not_before(h, now, ceiling_s=86400)
    assert when == now + 3600 and why.startswith("expires")


def test_every_hour_skipped_is_ignored() -> None:
    from services.poller.hints import FeedHints

    assert skip_to_allowed(1000.0, FeedHints(skip_hours=frozenset(range(24)))) == (1000.0, "")


def test_pathological_body_is_fast() -> None:
    import time

    body = b"<skipHours>" + b"<hour>1" * 200_000
    started = time.perf_counter()
    body_hints(body)
    assert time.perf_counter() - started < 1.0
