"""Redirect policy of the guarded fetcher (reliability catalogue S2), on `redirect_target`.

TLS needs certificates this machine cannot issue for a loopback test server, so the
https→http downgrade rule is checked on the policy function the fetcher applies to every
redirect; following redirects over real HTTP is tested in tests/integration/test_fetcher.py.
"""

from __future__ import annotations

import pytest
from yarl import URL

from services.adapters.fetcher import redirect_target
from services.core.errors import FetchRefused, PermanentFetchError


def target(current: str, location: str | None) -> URL:
    return redirect_target(URL(current), 301, location, allow_private=False)


def test_https_to_http_downgrade_is_refused() -> None:
    with pytest.raises(FetchRefused) as info:
        target("https://feeds.example/rss", "http://feeds.example/feed")
    assert info.value.error_class == "refused_downgrade"


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "gopher://feeds.example/", "http://169.254.169.254/latest/"]
)
def test_redirects_to_other_schemes_or_metadata_are_refused(location: str) -> None:
    with pytest.raises(FetchRefused):
        target("http://feeds.example/rss", location)


def test_relative_locations_resolve_against_the_current_url() -> None:
    assert str(target("https://feeds.example/a/rss", "../feed?x=1")) == (
        "https://feeds.example/feed?x=1"
    )
    assert str(target("http://feeds.example/rss", "https://cdn.example/f")) == (
        "https://cdn.example/f"
    )


def test_a_redirect_without_location_is_a_permanent_error() -> None:
    with pytest.raises(PermanentFetchError) as info:
        target("https://feeds.example/rss", "  ")
    assert info.value.error_class == "bad_redirect"
