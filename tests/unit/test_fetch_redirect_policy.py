"""Redirect policy of the guarded fetcher (reliability catalogue S2), on httpx's MockTransport.

TLS needs certificates this machine cannot issue for a loopback test server, so the
https→http downgrade rule is checked at the HTTP layer only.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.adapters.fetcher import Fetcher
from services.core.errors import FetchRefused


def redirecting_to(location: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/rss":
            return httpx.Response(301, headers={"Location": location})
        return httpx.Response(200, content=b"<rss/>")

    return httpx.MockTransport(handler)


def fetch(url: str, transport: httpx.MockTransport) -> None:
    fetcher = Fetcher(
        connect_timeout_s=2, timeout_s=5, max_body_bytes=1_000_000, max_redirects=5,
        user_agent="newswire-test", allow_private_networks=False, transport=transport,
    )  # fmt: skip

    async def go() -> None:
        try:
            await fetcher.fetch(url)
        finally:
            await fetcher.aclose()

    asyncio.run(go())


def test_https_to_http_downgrade_is_refused() -> None:
    with pytest.raises(FetchRefused) as info:
        fetch("https://feeds.example/rss", redirecting_to("http://feeds.example/feed"))
    assert info.value.error_class == "refused_downgrade"


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "gopher://feeds.example/", "http://169.254.169.254/latest/"]
)
def test_redirects_to_other_schemes_or_metadata_are_refused(location: str) -> None:
    with pytest.raises(FetchRefused):
        fetch("http://feeds.example/rss", redirecting_to(location))
