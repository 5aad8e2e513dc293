"""Guarded feed fetching: one conditional GET with caps, a total deadline and SSRF checks.

aiohttp is the HTTP client (keep-alive pool, C HTTP parser: about 6× less CPU per
conditional poll than httpx here). Its automatic decompression and redirects are off:
- Redirects are followed by hand (at most `max_redirects`); every hop is re-validated
  (scheme allow-list, no https→http downgrade, address checks in `netguard`).
- Bodies are read raw and decoded here (gzip, deflate, br, stacked) in bounded pieces with
  a running cap on decoded bytes; wire bytes and Content-Length are capped too.
- One total deadline covers every hop and the body, so a trickling server cannot extend it.
Failures raise `RetryableFetchError` (transient, with `retry_after_s`), `HttpStatusError` /
`PermanentFetchError` (retrying will not help) or `FetchRefused` (a safety rule).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Protocol

import aiohttp
import brotli
from yarl import URL

from services.adapters.netguard import Resolver, check_host, check_scheme, guarded_session
from services.core.errors import FetchError, FetchRefused, PermanentFetchError, TransientFetchError

ACCEPT = (
    "application/feed+json, application/atom+xml, application/rss+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate, br"
MAX_CODINGS = 3
CHUNK = 64 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
SIZE_HINT = "raise NEWSWIRE_FETCH__MAX_BODY_BYTES if this feed is legitimately that large"


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    body: bytes | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    headers: dict[str, str]
    elapsed_s: float
    wire_bytes: int
    permanent_redirect: str | None
    redirects: tuple[tuple[int, str], ...]


class RetryableFetchError(TransientFetchError):
    """A transient failure; `retry_after_s` is the server's Retry-After when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        error_class: str,
        retry_after_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, error_class=error_class)
        self.retry_after_s = retry_after_s
        self.status = status


class HttpStatusError(PermanentFetchError):
    """A 4xx (or odd) status that retrying will not fix; 410 has error_class 'gone'."""

    def __init__(self, message: str, *, error_class: str, status: int) -> None:
        super().__init__(message, error_class=error_class)
        self.status = status


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Layer(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _ZlibLayer:
    """gzip (wbits=47: gzip or zlib header) or deflate (wbits=None: zlib or raw, sniffed)."""

    def __init__(self, wbits: int | None) -> None:
        self._wbits = wbits
        self._head = b""
        self._d: zlib._Decompress | None = None if wbits is None else zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d is None:
            self._head += data
            if len(self._head) < 2:
                return
            b0, b1 = self._head[0], self._head[1]
            zlib_header = (b0 & 0x0F) == 8 and ((b0 << 8) | b1) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            data, self._head = self._head, b""
        buf = data
        while not self._d.eof:  # trailing bytes after the end of the stream are ignored
            out = self._d.decompress(buf, CHUNK)
            if out:
                yield out
            buf = self._d.unconsumed_tail
            if not buf and len(out) < CHUNK:
                return


class _BrotliLayer:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d.is_finished():
            return
        out = self._d.process(data, output_buffer_limit=CHUNK)
        while True:
            if out:
                yield out
            if self._d.can_accept_more_data() or self._d.is_finished():
                return
            out = self._d.process(b"", output_buffer_limit=CHUNK)


class BoundedBody:
    """Decodes stacked content codings in bounded pieces; refuses past `cap` decoded bytes."""

    def __init__(self, content_encoding: str, cap: int, url: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > MAX_CODINGS:
            raise FetchRefused(
                f"refused {url}: {len(codings)} stacked content codings (max {MAX_CODINGS})",
                error_class="bad_encoding",
            )
        self._layers = [_make_layer(c, url) for c in reversed(codings)]
        self._cap, self._url = cap, url
        self._parts: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        try:
            self._push(0, chunk)
        except (zlib.error, brotli.error) as exc:
            raise RetryableFetchError(
                f"{self._url}: corrupt compressed body ({exc})", error_class="bad_encoding"
            ) from None

    def body(self) -> bytes:
        return b"".join(self._parts)

    def _push(self, index: int, data: bytes) -> None:
        if index == len(self._layers):
            self._emit(data)
            return
        for out in self._layers[index].feed(data):
            self._push(index + 1, out)

    def _emit(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._cap:
            raise FetchRefused(
                f"refused {self._url}: decoded body exceeds {self._cap} bytes; {SIZE_HINT}",
                error_class="too_large",
            )
        self._parts.append(data)


def _make_layer(coding: str, url: str) -> _Layer:
    if coding in ("gzip", "x-gzip"):
        return _ZlibLayer(32 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _ZlibLayer(None)
    if coding == "br":
        return _BrotliLayer()
    raise PermanentFetchError(
        f"{url}: unsupported Content-Encoding '{coding}' (we accept {ACCEPT_ENCODING})",
        error_class="bad_encoding",
    )


class Fetcher:
    """Async guarded fetcher; share one instance across concurrent fetches in an event loop.

    The aiohttp session is created on first use, inside the running event loop.
    """

    def __init__(
        self,
        *,
        connect_timeout_s: float,
        timeout_s: float,
        max_body_bytes: int,
        max_redirects: int,
        user_agent: str,
        allow_private_networks: bool,
        resolver: Resolver | None = None,
    ) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._max_body = max_body_bytes
        self._max_redirects = max_redirects
        self._allow_private = allow_private_networks
        self._resolver = resolver
        self._headers = {
            "User-Agent": user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = guarded_session(
                allow_private=self._allow_private,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._connect_timeout_s, sock_read=self._timeout_s
                ),
                headers=self._headers,
                resolver=self._resolver,
                dns_timeout_s=self._connect_timeout_s,
                auto_decompress=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url` (conditionally when validators are given) within the total deadline."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._follow(url, headers, started)
        except TimeoutError:
            raise RetryableFetchError(
                f"{url}: no complete response within the {self._timeout_s}s total deadline",
                error_class="timeout",
            ) from None

    async def _follow(self, url: str, headers: dict[str, str], started: float) -> FetchResult:
        current = checked_url(url, allow_private=self._allow_private)
        hops: list[tuple[int, str]] = []
        permanent: str | None = None
        while True:
            response = await self._send(current, headers)
            try:
                status = response.status
                if status not in REDIRECTS:
                    return await self._finish(current, response, started, permanent, hops)
                if len(hops) >= self._max_redirects:
                    raise PermanentFetchError(
                        f"{url}: more than {self._max_redirects} redirects; fix the feed URL",
                        error_class="too_many_redirects",
                    )
                target = redirect_target(
                    current, status, response.headers.get("Location"), self._allow_private
                )
            finally:
                response.release()
            if status in PERMANENT and all(s in PERMANENT for s, _ in hops):
                permanent = str(target)
            hops.append((status, str(target)))
            current = target

    async def _send(self, url: URL, headers: dict[str, str]) -> aiohttp.ClientResponse:
        try:
            return await self._client().get(url, headers=headers, allow_redirects=False)
        except aiohttp.ClientError as exc:
            raise _client_error(exc, url) from None
        except TransientFetchError as exc:  # from the guarded resolver (DNS)
            if isinstance(exc, RetryableFetchError):
                raise
            raise RetryableFetchError(str(exc), error_class=exc.error_class) from None

    async def _finish(
        self,
        url: URL,
        response: aiohttp.ClientResponse,
        started: float,
        permanent: str | None,
        hops: list[tuple[int, str]],
    ) -> FetchResult:
        status = response.status
        if status == 304:
            body, wire = None, 0  # no body by definition; the connection goes back to the pool
        elif 200 <= status < 300:
            body, wire = await self._read_body(url, response)
        else:
            raise _status_error(url, response)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return FetchResult(
            url=str(url),
            status=status,
            body=body,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            not_modified=status == 304,
            headers=headers,
            elapsed_s=time.monotonic() - started,
            wire_bytes=wire,
            permanent_redirect=permanent,
            redirects=tuple(hops),
        )

    async def _read_body(self, url: URL, response: aiohttp.ClientResponse) -> tuple[bytes, int]:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self._max_body:
            raise FetchRefused(
                f"refused {url}: Content-Length {length} > {self._max_body} bytes; {SIZE_HINT}",
                error_class="too_large",
            )
        decoded = BoundedBody(
            response.headers.get("Content-Encoding", ""), self._max_body, str(url)
        )
        wire = 0
        try:
            async for chunk in response.content.iter_chunked(CHUNK):
                wire += len(chunk)
                if wire > self._max_body:
                    raise FetchRefused(
                        f"refused {url}: body > {self._max_body} bytes on the wire; {SIZE_HINT}",
                        error_class="too_large",
                    )
                decoded.feed(chunk)
        except aiohttp.ClientError as exc:
            raise _client_error(exc, url) from None
        return decoded.body(), wire


def checked_url(url: str | URL, *, allow_private: bool) -> URL:
    """`url` parsed, with an allowed scheme and a host that is not a refused literal address."""
    if isinstance(url, str):
        return _checked_str(url, allow_private)
    return _checked(url, allow_private)


@lru_cache(maxsize=65536)
def _checked_str(url: str, allow_private: bool) -> URL:
    """Memoised for feed URLs, which are fetched again and again (a refusal is not cached)."""
    return _checked(url, allow_private)


def _checked(url: str | URL, allow_private: bool) -> URL:
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        host = parsed.raw_host or ""
    except (TypeError, ValueError) as exc:
        raise FetchRefused(
            f"refused {url}: invalid URL ({exc})", error_class="invalid_url"
        ) from None
    check_scheme(parsed.scheme if parsed.absolute else "", str(url))
    check_host(host, str(url), allow_private=allow_private)
    return parsed


def redirect_target(current: URL, status: int, location: str | None, allow_private: bool) -> URL:
    """Where a redirect from `current` may go: re-validated, and never https → http."""
    location = (location or "").strip()
    if not location:
        raise PermanentFetchError(
            f"{current}: HTTP {status} without a Location header", error_class="bad_redirect"
        )
    try:
        joined = current.join(URL(location))
    except (TypeError, ValueError) as exc:
        raise FetchRefused(
            f"refused redirect from {current} to {location!r}: {exc}", error_class="invalid_url"
        ) from None
    target = checked_url(joined, allow_private=allow_private)
    if current.scheme == "https" and target.scheme == "http":
        raise FetchRefused(
            f"refused redirect from {current} to {target}: https→http downgrade",
            error_class="refused_downgrade",
        )
    return target


# aiohttp's exceptions, most specific first (TLS errors are told apart before these).
_TRANSIENT_LABELS: tuple[tuple[type[aiohttp.ClientError], str, str], ...] = (
    (aiohttp.ConnectionTimeoutError, "connect", "connect timed out"),
    (aiohttp.ClientConnectorDNSError, "dns", "DNS lookup failed"),
    (aiohttp.ClientConnectorError, "connect", "could not connect"),
    (aiohttp.ServerTimeoutError, "timeout", "timed out"),
    (aiohttp.ServerDisconnectedError, "protocol", "server closed the connection"),
    (aiohttp.ClientPayloadError, "protocol", "server broke the HTTP protocol"),
    (aiohttp.ClientResponseError, "protocol", "server broke the HTTP protocol"),
)


def _client_error(exc: aiohttp.ClientError, url: URL) -> FetchError:
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchRefused(f"refused {url}: invalid URL ({exc})", error_class="invalid_url")
    if isinstance(exc, aiohttp.ClientConnectorError) and _caused_by_tls(exc):
        return RetryableFetchError(f"{url}: TLS handshake failed ({exc})", error_class="tls")
    for kind, label, what in _TRANSIENT_LABELS:
        if isinstance(exc, kind):
            return RetryableFetchError(f"{url}: {what} ({exc!s:.200})", error_class=label)
    return RetryableFetchError(
        f"{url}: network error ({type(exc).__name__}: {exc!s:.200})", error_class="connect"
    )


def _caused_by_tls(exc: BaseException) -> bool:
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _status_error(url: URL, response: aiohttp.ClientResponse) -> FetchError:
    status = response.status
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return RetryableFetchError(
            f"{url}: HTTP 429 Too Many Requests (Retry-After {retry_after}s)",
            error_class="http_429",
            retry_after_s=retry_after,
            status=status,
        )
    if status >= 500 or status == 408:
        label = "http_5xx" if status >= 500 else "timeout"
        return RetryableFetchError(
            f"{url}: HTTP {status}", error_class=label, retry_after_s=retry_after, status=status
        )
    if status == 410:
        return HttpStatusError(
            f"{url}: HTTP 410 Gone; the feed was removed", error_class="gone", status=status
        )
    if 400 <= status < 500:
        return HttpStatusError(
            f"{url}: HTTP {status}; check the feed URL", error_class="http_4xx", status=status
        )
    return HttpStatusError(
        f"{url}: unexpected HTTP {status}", error_class="http_status", status=status
    )
