"""SSRF guard: which URLs and addresses a feed fetch may reach.

Checked twice: on the URL (scheme allow-list, literal addresses in any spelling,
`localhost` names) and again at connect time on every resolved address, inside the
HTTP client's resolver (aiohttp connects to exactly the addresses its resolver returns).
The address connected to is the address validated: a name is resolved once, every
address it resolves to must pass, and the socket is opened to those IPs, so DNS
rebinding cannot slip a private address in between check and use. TLS SNI and
certificate checks still use the host name. Literal IPs never reach the resolver:
they are checked on the URL (aiohttp also refuses non-canonical IPv4 spellings).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from services.core.errors import FetchRefused, TransientFetchError

ALLOWED_SCHEMES = frozenset({"http", "https"})
ALLOW_HINT = "set NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS=true to allow private networks"

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

# Cloud metadata endpoints: refused even when private networks are allowed.
_METADATA = frozenset(
    ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)

_V4_BLOCKS: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "a 'this network' address (0.0.0.0/8)"),
        ("10.0.0.0/8", "a private address (RFC 1918)"),
        ("100.64.0.0/10", "a carrier-grade NAT address (100.64.0.0/10)"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address (RFC 1918)"),
        ("192.0.0.0/24", "an IETF protocol address (192.0.0.0/24)"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address (RFC 1918)"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)
_V6_BLOCKS: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), why)
    for net, why in (
        ("::1/128", "a loopback address"),
        ("::/128", "the unspecified address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/23", "an IETF protocol address (incl. Teredo)"),
        ("2001:db8::/32", "a documentation address"),
        ("fc00::/7", "a unique local address (ULA)"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64 = ip_network("64:ff9b::/96")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def check_scheme(scheme: str, url: str) -> None:
    """Refuse anything but http and https."""
    if scheme.lower() not in ALLOWED_SCHEMES:
        shown = f"'{scheme}:'" if scheme else "a relative URL"
        raise FetchRefused(
            f"refused {url}: only absolute http(s) URLs are fetched, got {shown}",
            error_class="refused_scheme",
        )


def check_host(host: str, url: str, *, allow_private: bool) -> None:
    """Refuse `localhost` names and literal addresses (any spelling) that are not public."""
    name = host.strip("[]").rstrip(".").lower()
    if not name:
        raise FetchRefused(f"refused {url}: the URL has no host", error_class="invalid_url")
    if not allow_private and (name in _LOCAL_NAMES or name.endswith(".localhost")):
        raise FetchRefused(
            f"refused {url}: '{host}' names this machine; {ALLOW_HINT}",
            error_class="refused_address",
        )
    literal = parse_ip_literal(name)
    if literal is not None:
        _refuse_address(literal, url, allow_private=allow_private)


def parse_ip_literal(host: str) -> IPAddress | None:
    """`host` as an IP address, including inet_aton spellings (2130706433, 0x7f.1, 0177.0.0.1)."""
    text = host.strip("[]")
    try:
        return ip_address(text)
    except ValueError:
        pass
    if ":" in text and "%" in text:  # IPv6 zone id spelled %25 in URLs
        try:
            return ip_address(text.replace("%25", "%"))
        except ValueError:
            return None
    return _parse_inet_aton(text)


def _parse_inet_aton(text: str) -> IPv4Address | None:
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_aton_part(part) for part in parts]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    *head, last = nums
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    return IPv4Address((number << (8 * (4 - len(head)))) | last)


def _aton_part(part: str) -> int | None:
    try:
        if part[:2].lower() == "0x":
            return (
                int(part[2:] or "0", 16)
                if all(c in "0123456789abcdefABCDEF" for c in part[2:])
                else None
            )
        if part.startswith("0") and len(part) > 1:
            return int(part, 8) if part.isdigit() else None
        return int(part) if part.isdigit() and part.isascii() else None
    except ValueError:
        return None


def address_problem(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why connecting to `ip` is refused (a phrase such as 'a loopback address'), or None."""
    inner = _embedded_ipv4(ip) if isinstance(ip, IPv6Address) else None
    target: IPAddress = inner if inner is not None else ip
    if target in _METADATA or ip in _METADATA:
        return "a cloud metadata address"
    if target.is_unspecified:
        return "the unspecified address"
    if target.is_multicast:
        return "a multicast address"
    if allow_private:
        return None
    why = next(iter(_blocks_containing(target)), None)
    if why is None and inner is not None:
        why = next(iter(_blocks_containing(ip)), None)
    if why is None and not target.is_global:
        why = "not a globally routable address"
    return why


def _blocks_containing(ip: IPAddress) -> Iterable[str]:
    if isinstance(ip, IPv4Address):
        return (why for net, why in _V4_BLOCKS if ip in net)
    return (why for net, why in _V6_BLOCKS if ip in net)


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address inside IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 addresses."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    low = IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
        return low
    return None


def _refuse_address(ip: IPAddress, url: str, *, allow_private: bool) -> None:
    why = address_problem(ip, allow_private=allow_private)
    if why is not None:
        hint = "" if allow_private or why == "a cloud metadata address" else f"; {ALLOW_HINT}"
        raise FetchRefused(f"refused {url}: {ip} is {why}{hint}", error_class="refused_address")


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """All addresses of `host` from the system resolver (getaddrinfo), in preference order."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientFetchError(
            f"DNS lookup of '{host}' failed: {exc}; check the feed's host name",
            error_class="dns",
        ) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses a name if any address it resolves to is not allowed."""

    def __init__(
        self, *, allow_private: bool, resolver: Resolver | None = None, timeout_s: float = 10.0
    ) -> None:
        self._allow_private = allow_private
        self._resolver = resolver or system_resolver
        self._timeout_s = timeout_s

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The validated addresses of `host` (aiohttp connects to these and nothing else)."""
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in await self.resolve_checked(host, port)
        ]

    async def resolve_checked(self, host: str, port: int) -> list[IPAddress]:
        """Resolve `host` once and refuse it if any of its addresses is not allowed."""
        literal = parse_ip_literal(host)
        if literal is not None:
            found: Sequence[str] = [str(literal)]
        else:
            try:
                async with asyncio.timeout(self._timeout_s):
                    found = await self._resolver(host, port)
            except TimeoutError:
                raise TransientFetchError(
                    f"DNS lookup of '{host}' timed out after {self._timeout_s}s; "
                    "check the resolver",
                    error_class="dns",
                ) from None
        addresses = [ip_address(a) for a in found]
        if not addresses:
            raise TransientFetchError(
                f"DNS lookup of '{host}' returned no address", error_class="dns"
            )
        for address in addresses:
            _refuse_address(address, f"{host}:{port}", allow_private=self._allow_private)
        return addresses

    async def close(self) -> None:
        """Nothing to release."""


def guarded_connector(
    *, allow_private: bool, resolver: Resolver | None = None, dns_timeout_s: float = 10.0
) -> aiohttp.TCPConnector:
    """A keep-alive connection pool whose every connection goes through `GuardedResolver`."""
    return aiohttp.TCPConnector(
        resolver=GuardedResolver(
            allow_private=allow_private, resolver=resolver, timeout_s=dns_timeout_s
        ),
        limit=100,
        keepalive_timeout=5.0,
    )


def guarded_session(
    *,
    allow_private: bool,
    timeout: aiohttp.ClientTimeout,
    headers: dict[str, str],
    resolver: Resolver | None = None,
    dns_timeout_s: float = 10.0,
    auto_decompress: bool = True,
) -> aiohttp.ClientSession:
    """An HTTP session for untrusted URLs: guarded connections, no cookies, no proxy or
    credentials from the environment. Create it inside the running event loop."""
    return aiohttp.ClientSession(
        connector=guarded_connector(
            allow_private=allow_private, resolver=resolver, dns_timeout_s=dns_timeout_s
        ),
        timeout=timeout,
        headers=headers,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=auto_decompress,
        trust_env=False,
    )
