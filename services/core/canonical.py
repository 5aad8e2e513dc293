"""Canonical URLs: one spelling per article link, so copies of a link compare equal.

The result is an identity key, not necessarily a fetchable URL: the scheme is always
``https``, ``www.``/``m.``/``amp.`` host prefixes are dropped, tracking parameters are
removed, the remaining query is sorted, and AMP / Google redirect wrappers are unwrapped.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# Exact tracking parameter names (compared lower-cased). Sources: the list (BBC
# at_*, NYT smid, Guardian CMP, Reuters taid), Miniflux urlcleaner.go and real feeds
# (BBC ns_*, Guardian ito, CNN/Fox traffic_source).
_TRACKING_EXACT = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "gclsrc", "msclkid", "twclid",
        "mc_cid", "mc_eid", "mc_tc", "smid", "cmp", "taid", "ocid", "igshid", "yclid",
        "ysclid", "srsltid", "_hsenc", "_hsmi", "hsctatracking", "mkt_tok", "ito",
        "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "ref_src",
        "guccounter", "cmpid", "xtor", "traffic_source", "rb_clickid", "sc_cid", "wickedid",
        "_openstat", "fb_action_ids", "fb_action_types", "fb_ref", "fb_source",
        "fb_comment_id", "_bhlid", "_branch_match_id", "_branch_referrer", "s_cid",
    }
)  # fmt: skip
_TRACKING_PREFIX = ("utm_", "at_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "itm_", "hmb_")

# ClearURLs "globalRules" (ClearURLs/Rules data.min.json, commit 9317c06, LGPL-3.0),
# re-derived as full-match, case-insensitive regexes over parameter names; the
# referral-marketing rules (ref, referrer) are deliberately not included.
_CLEARURLS_GLOBAL = re.compile(
    r"utm(?:_[a-z_]*)?|ga_[a-z_]+|yclid|_openstat|fb_action_(?:types|ids)|fb_(?:source|ref)"
    r"|fbclid|action_(?:object|type|ref)_map|gs_l|mkt_tok|hmb_(?:campaign|medium|source)"
    r"|gclid|otm_[a-z_]*|cmpid|os_ehash|_ga|_gl|__twitter_impression|wt_?z?mc|wtrid"
    r"|[a-z]?mc|dclid|echobox|spm|vn(?:_[a-z]*)+|tracking_source|itm_(?:campaign|medium|source)"
    r"|__hsfp|__hssc|__hstc|_hsenc|__s|hsctatracking|mc_(?:eid|cid|tc)|ml_subscriber(?:_hash)?"
    r"|msclkid|oly_(?:anon|enc)_id|rb_clickid|s_cid|vero_(?:conv|id)|wickedid|twclid",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_PREFIX = re.compile(r"^(?:www\d*|m|amp|mobile)\.")
# Hosts that serve the same article paths (bbc.co.uk/news/x == bbc.com/news/x).
_HOST_ALIASES = {"bbc.co.uk": "bbc.com"}
_GOOGLE_HOST = re.compile(r"^(?:www\.)?google\.[a-z.]+$")
_AMP_CACHE = re.compile(r"^/[cvi]/(?:s/)?(.+)$")
_AMP_QUERY = frozenset({"amp", "amp_js_v", "usqp", "amp_gsa", "amp_tf"})
_MAX_UNWRAP = 3
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_SLASHES = re.compile(r"/{2,}")
_AMP_HTML = re.compile(r"\.amp\.html?$")
_AMP_PREFIX = re.compile(r"^/amp(?=/.)")
_AMP_SUFFIX = re.compile(r"/amp/?$")


def is_tracking_param(name: str) -> bool:
    """True for query parameter names that only track clicks and never select content."""
    lower = name.lower()
    return (
        lower in _TRACKING_EXACT
        or lower.startswith(_TRACKING_PREFIX)
        or _CLEARURLS_GLOBAL.fullmatch(lower) is not None
    )


def _unwrap(url: str) -> str:
    """Unwrap Google redirect (/url?q=) and AMP-viewer / AMP-cache wrappers."""
    for _ in range(_MAX_UNWRAP):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        inner: str | None = None
        if _GOOGLE_HOST.match(host):
            if parts.path == "/url":
                params = dict(parse_qsl(parts.query))
                inner = params.get("q") or params.get("url")
            elif parts.path.startswith("/amp/s/"):
                inner = "https://" + parts.path[len("/amp/s/") :]
            elif parts.path.startswith("/amp/"):
                inner = "http://" + parts.path[len("/amp/") :]
        elif host.endswith(".cdn.ampproject.org") and (m := _AMP_CACHE.match(parts.path)):
            inner = "https://" + m.group(1)
        if not inner or not inner.lower().startswith(("http://", "https://")):
            return url
        url = inner
    return url


def _canonical_host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    if not host.isascii():  # the idna codec returns an ASCII name unchanged (or refuses it)
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    host = _HOST_PREFIX.sub("", host)
    return _HOST_ALIASES.get(host, host)


def _canonical_path(path: str) -> str:
    path = path or "/"
    if "%" in path:  # the substring tests skip rewrites that cannot apply (most paths)
        path = _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), path)
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if "amp" in path:
        path = _AMP_HTML.sub(".html", path)
        path = _AMP_PREFIX.sub("", path)
        path = _AMP_SUFFIX.sub("/", path)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


def _keep_param(name: str, value: str) -> bool:
    lower = name.lower()
    if lower in _AMP_QUERY or (lower == "outputtype" and value.lower() == "amp"):
        return False
    return not is_tracking_param(name)


@lru_cache(maxsize=4096)  # one document's links are canonicalised three times (ids, GUIDs, links)
def canonicalize_url(url: str) -> str:
    """Lower-case scheme/host, drop default port, fragment and tracking params, sort query.

    http/https and ``www.`` variants are folded (scheme becomes https, ``www.`` dropped),
    Google ``/url?q=`` redirects and AMP wrappers are unwrapped. Non-http(s) input is
    returned stripped and otherwise unchanged.
    """
    raw = url.strip()
    parts = urlsplit(_unwrap(raw))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return raw
    host = _canonical_host(parts.hostname)
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit(("https", netloc, _canonical_path(parts.path), _query(parts.query), ""))


def _query(query: str) -> str:
    """The query without tracking parameters, sorted."""
    if not query:
        return ""
    kept = sorted(
        (unquote(k), v)
        for k, v in parse_qsl(query, keep_blank_values=True)
        if _keep_param(unquote(k), v)
    )
    return urlencode(kept)
