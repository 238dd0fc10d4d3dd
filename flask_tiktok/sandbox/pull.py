"""``PULL_FROM_URL``: which media URLs TikTok takes, and the sandbox's fetch.

TikTok pulls only ``https://`` URLs on a domain or URL prefix the app verified,
never from an IP address and without following redirects. The sandbox has no
network: it fetches from loopback only, and plain ``http://`` loopback URLs
are let through only when the sandbox is made with ``pull_from_loopback=True``
(tests serve their media without TLS).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from .chunks import MAX_VIDEO_SIZE
from .errors import invalid_param, posting_error

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_READ_SIZE = 1 << 20


class PullFailed(Exception):
    """The media could not be downloaded; the message says why."""


@dataclass(frozen=True)
class Pulled:
    """What a pull received: its size and SHA-256 (hex)."""

    size: int
    sha256: str


def _is_loopback(host: str | None) -> bool:
    return host in LOOPBACK_HOSTS


def check_media_url(
    url: object, prefixes: Sequence[str], *, pull_from_loopback: bool
) -> str:
    """``url`` if TikTok would pull it, else the API error TikTok answers.

    ``invalid_param`` for a malformed, non-https or IP-host URL;
    ``url_ownership_unverified`` for one outside every verified prefix.
    """
    if not isinstance(url, str) or not url:
        raise invalid_param("The media URL must be a non-empty string.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise invalid_param(f"The media URL {url!r} is malformed.") from None
    loopback = pull_from_loopback and _is_loopback(host)
    if not host or (
        parts.scheme != "https" and not (loopback and parts.scheme == "http")
    ):
        raise invalid_param("The media URL must be an https:// URL with a host.")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if not loopback:
            raise invalid_param("The media URL's host must be a domain, not an IP.")
    if not any(url.startswith(prefix) for prefix in prefixes):
        raise posting_error("url_ownership_unverified")
    return url


def fetch(url: str, *, timeout: float = 10.0) -> Pulled:
    """Download ``url`` (loopback only), hashing it as it streams in."""
    if not _is_loopback(urlsplit(url).hostname):
        raise PullFailed("The sandbox has no network: it pulls from loopback only.")
    digest = hashlib.sha256()
    size = 0
    try:
        with requests.get(
            url, stream=True, allow_redirects=False, timeout=timeout
        ) as response:
            if response.status_code != 200:
                raise PullFailed(f"The media URL answered {response.status_code}.")
            for block in response.iter_content(_READ_SIZE):
                size += len(block)
                if size > MAX_VIDEO_SIZE:
                    raise PullFailed("The media is over 4 GB.")
                digest.update(block)
    except requests.RequestException as exc:
        raise PullFailed(f"The media could not be downloaded: {exc}") from None
    if not size:
        raise PullFailed("The media URL answered an empty body.")
    return Pulled(size, digest.hexdigest())
