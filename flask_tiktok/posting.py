"""TikTok's Content Posting API: what is sent, what comes back, what is checked first.

The request bodies of ``post/publish/...``, the checks made before any call
(each ``ValueError`` names the rule), the chunk layout of a file upload, and
the answers as :class:`CreatorInfo` and :class:`PostStatus`. The calls
themselves are :class:`~flask_tiktok.TikTokClient`'s; the chunk uploads are
:mod:`flask_tiktok.upload`'s.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "MAX_VIDEO_BYTES",
    "MIN_CHUNK_SIZE",
    "PRIVACY_LEVELS",
    "ChunkLayout",
    "CreatorInfo",
    "PhotoOptions",
    "PostStatus",
    "VideoOptions",
    "check_chunk_size",
    "check_pull_url",
    "chunk_layout",
    "photo_body",
    "utf16_length",
    "verified_prefixes",
    "video_post_info",
]

#: The chunk size used for a file over 64 MB when none is given, in bytes.
DEFAULT_CHUNK_SIZE = 10_000_000
#: TikTok's chunks are 5 to 64 MB; whether "MB" is decimal or binary is not
#: said, so the range used holds in both readings.
MIN_CHUNK_SIZE = 5 * 1024 * 1024
#: The largest chunk, and the largest file sent as one chunk.
MAX_CHUNK_SIZE = 64_000_000
#: The largest video TikTok takes (4 GB).
MAX_VIDEO_BYTES = 4 * 1024**3
#: Title limits in UTF-16 code units, as TikTok counts them.
MAX_VIDEO_TITLE = 2200
MAX_PHOTO_TITLE = 90
MAX_PHOTO_DESCRIPTION = 4000
#: At most this many images in a photo post.
MAX_PHOTOS = 35

#: Every privacy level TikTok knows; a creator is offered some of them
#: (:attr:`CreatorInfo.privacy_level_options`).
PRIVACY_LEVELS = frozenset(
    {"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}
)

#: Statuses after which a post's status no longer changes.
DONE_STATUSES = frozenset({"PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "FAILED"})


class VideoOptions(TypedDict, total=False):
    """The keyword options of ``publish_video`` besides ``privacy_level``."""

    #: The caption, hashtags and mentions included (at most 2,200 UTF-16 units).
    title: str
    #: Nobody may comment (ticked by the user; never when the creator has).
    disable_comment: bool
    #: Nobody may Duet the video.
    disable_duet: bool
    #: Nobody may Stitch the video.
    disable_stitch: bool
    #: The frame used as the cover, in milliseconds from the start.
    cover_timestamp_ms: int
    #: "Branded content": a paid partnership (never ``SELF_ONLY``).
    brand_content: bool
    #: "Your brand": the creator promotes their own business.
    brand_organic: bool
    #: The video is AI-generated content.
    is_aigc: bool
    #: Bytes per chunk, 5 MiB to 64 MB (default: one chunk up to 64 MB,
    #: chunks of 10,000,000 above).
    chunk_size: int
    #: The file's media type (default: from its name's extension, else mp4).
    content_type: str


class PhotoOptions(TypedDict, total=False):
    """The keyword options of ``publish_photos``."""

    #: At most 90 UTF-16 units.
    title: str
    #: At most 4,000 UTF-16 units.
    description: str
    #: Which image is the cover (0-based, default 0).
    cover_index: int
    #: Nobody may comment (direct post only).
    disable_comment: bool
    #: TikTok adds music to the photos (direct post only).
    auto_add_music: bool
    #: "Branded content": a paid partnership (never ``SELF_ONLY``).
    brand_content: bool
    #: "Your brand": the creator promotes their own business.
    brand_organic: bool
    #: ``"DIRECT_POST"`` (default) or ``"MEDIA_UPLOAD"`` (a draft in the inbox).
    post_mode: Literal["DIRECT_POST", "MEDIA_UPLOAD"]


@dataclass(frozen=True)
class ChunkLayout:
    """How a file of ``size`` bytes is cut: ``count`` chunks of ``chunk_size``,
    the remainder joined to the last one."""

    #: The file's size in bytes.
    size: int
    #: Bytes per chunk (the last one has the remainder as well).
    chunk_size: int
    #: How many chunks.
    count: int

    def chunk(self, index: int) -> tuple[int, int]:
        """``(first byte, length)`` of chunk ``index`` (0-based)."""
        start = index * self.chunk_size
        last = index == self.count - 1
        return start, (self.size - start if last else self.chunk_size)

    def index_at(self, offset: int) -> int | None:
        """The chunk that starts at byte ``offset`` (``None``: no chunk does)."""
        index, rest = divmod(offset, self.chunk_size)
        return index if rest == 0 and index < self.count else None

    def source_info(self) -> dict[str, Any]:
        """The ``source_info`` of an init for this file."""
        return {
            "source": "FILE_UPLOAD",
            "video_size": self.size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.count,
        }


def check_chunk_size(chunk_size: int | None) -> None:
    """Refuse a ``chunk_size`` outside TikTok's 5 to 64 MB (``None``: automatic)."""
    if chunk_size is None:
        return
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError("chunk_size is a number of bytes")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(
            f"chunk_size must be {MIN_CHUNK_SIZE:,} to {MAX_CHUNK_SIZE:,} bytes"
            f" (TikTok's chunks are 5 to 64 MB), not {chunk_size:,}"
        )


def chunk_layout(size: int, chunk_size: int | None = None) -> ChunkLayout:
    """TikTok's chunk layout for a file of ``size`` bytes.

    ``floor(size / chunk_size)`` chunks, the remainder joined to the last; a
    file that makes one chunk is sent whole (TikTok wants files under 5 MB
    so, and a single chunk may not exceed 64 MB). Without a ``chunk_size``,
    a file up to 64 MB is one chunk and a larger one is cut in chunks of
    10,000,000 bytes.
    """
    check_chunk_size(chunk_size)
    if size <= 0:
        raise ValueError("the video file is empty")
    if size > MAX_VIDEO_BYTES:
        raise ValueError(f"the video is over TikTok's 4 GB limit ({size:,} bytes)")
    if chunk_size is None:
        chunk_size = size if size <= MAX_CHUNK_SIZE else DEFAULT_CHUNK_SIZE
    # At most 819 chunks (4 GiB in 5 MiB), within TikTok's 1,000.
    count = size // chunk_size
    if count <= 1:
        if size > MAX_CHUNK_SIZE:
            raise ValueError(
                f"a file over {MAX_CHUNK_SIZE:,} bytes must be sent in two chunks"
                f" or more: a chunk_size of {chunk_size:,} makes one"
            )
        return ChunkLayout(size, size, 1)
    return ChunkLayout(size, chunk_size, count)


def utf16_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, as TikTok counts titles."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} is a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"the {name} holds a lone surrogate: not text") from None
    if utf16_length(value) > limit:
        raise ValueError(
            f"the {name} is over TikTok's {limit:,} UTF-16 units"
            f" ({utf16_length(value):,})"
        )
    return value


def _privacy(level: Any, *, branded: bool) -> str:
    if level not in PRIVACY_LEVELS:
        raise ValueError(
            f"privacy_level is one of {', '.join(sorted(PRIVACY_LEVELS))}"
            f" (one the creator is offered), not {level!r}"
        )
    if branded and level == "SELF_ONLY":
        raise ValueError(
            "branded content (brand_content) cannot be private (SELF_ONLY)"
        )
    return str(level)


def _options(given: Mapping[str, Any], known: type, flags: Iterable[str]) -> None:
    """Refuse an option that is not one (a typo would be ignored by TikTok)
    and a flag that is not a bool (``"false"`` would be true)."""
    unknown = sorted(set(given) - set(known.__annotations__))
    if unknown:
        raise TypeError(
            f"unknown option {unknown[0]!r}; the options are"
            f" {', '.join(sorted(known.__annotations__))}"
        )
    for flag in flags:
        if flag in given and not isinstance(given[flag], bool):
            raise TypeError(f"{flag} is True or False, not {given[flag]!r}")


_VIDEO_FLAGS = (
    "disable_comment",
    "disable_duet",
    "disable_stitch",
    "brand_content",
    "brand_organic",
    "is_aigc",
)
_PHOTO_FLAGS = ("disable_comment", "auto_add_music", "brand_content", "brand_organic")


def video_post_info(privacy_level: str, options: VideoOptions) -> dict[str, Any]:
    """The ``post_info`` of a direct video post, checked."""
    _options(options, VideoOptions, _VIDEO_FLAGS)
    info: dict[str, Any] = {
        "privacy_level": _privacy(
            privacy_level, branded=options.get("brand_content", False)
        ),
        "disable_comment": options.get("disable_comment", False),
        "disable_duet": options.get("disable_duet", False),
        "disable_stitch": options.get("disable_stitch", False),
        "brand_content_toggle": options.get("brand_content", False),
        "brand_organic_toggle": options.get("brand_organic", False),
        "is_aigc": options.get("is_aigc", False),
    }
    if "title" in options:
        info["title"] = _text("title", options["title"], MAX_VIDEO_TITLE)
    cover = options.get("cover_timestamp_ms")
    if cover is not None:
        if isinstance(cover, bool) or not isinstance(cover, int) or cover < 0:
            raise ValueError("cover_timestamp_ms is a number of milliseconds, >= 0")
        info["video_cover_timestamp_ms"] = cover
    return info


def photo_body(
    photos: Sequence[str],
    privacy_level: str | None,
    options: PhotoOptions,
    prefixes: Sequence[str],
) -> dict[str, Any]:
    """The body of ``post/publish/content/init/`` for a photo post, checked."""
    _options(options, PhotoOptions, _PHOTO_FLAGS)
    if isinstance(photos, str):
        raise TypeError("photos is a list of image URLs, not one string")
    urls = [check_pull_url(url, prefixes) for url in photos]
    if not 1 <= len(urls) <= MAX_PHOTOS:
        raise ValueError(f"a photo post has 1 to {MAX_PHOTOS} images, not {len(urls)}")
    cover = options.get("cover_index", 0)
    if isinstance(cover, bool) or not isinstance(cover, int):
        raise TypeError("cover_index is the 0-based index of an image")
    if not 0 <= cover < len(urls):
        raise ValueError(f"cover_index is 0 to {len(urls) - 1}, not {cover}")
    mode = options.get("post_mode", "DIRECT_POST")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise ValueError(f"post_mode is DIRECT_POST or MEDIA_UPLOAD, not {mode!r}")
    info: dict[str, Any] = {}
    if "title" in options:
        info["title"] = _text("title", options["title"], MAX_PHOTO_TITLE)
    if "description" in options:
        info["description"] = _text(
            "description", options["description"], MAX_PHOTO_DESCRIPTION
        )
    if mode == "DIRECT_POST":
        if privacy_level is None:
            raise ValueError("a direct photo post needs a privacy_level")
        info["privacy_level"] = _privacy(
            privacy_level, branded=options.get("brand_content", False)
        )
        info["disable_comment"] = options.get("disable_comment", False)
        info["auto_add_music"] = options.get("auto_add_music", False)
        info["brand_content_toggle"] = options.get("brand_content", False)
        info["brand_organic_toggle"] = options.get("brand_organic", False)
    else:
        direct_only = [f for f in _PHOTO_FLAGS if f in options]
        if privacy_level is not None or direct_only:
            raise ValueError(
                "privacy_level and "
                + ", ".join(_PHOTO_FLAGS)
                + " are for a direct post; a MEDIA_UPLOAD draft is finished by"
                " the creator in TikTok"
            )
    return {
        "post_info": info,
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": cover,
            "photo_images": urls,
        },
        "post_mode": mode,
        "media_type": "PHOTO",
    }


#: Characters a media URL may not hold as they are: whitespace and controls
#: (``urlsplit`` drops some silently, so what is checked would not be what
#: is sent), a backslash, a fragment.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\#]")
#: A path segment that is a dot segment, plainly or percent-encoded, or a
#: percent-encoded slash or backslash: a way out of a verified prefix.
_ESCAPE = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)|%2f|%5c", re.IGNORECASE)


def _canonical(url: str, what: str) -> str:
    """``https://host[:port]/path[?query]`` of a media URL or prefix, checked
    (the host in lower case, no default port, ``/`` for an empty path)."""
    if _UNSAFE.search(url):
        raise ValueError(
            f"{what} must not hold spaces, control characters, a backslash or"
            " a fragment"
        )
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError(f"{what} must be an https:// URL (TikTok pulls only those)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not carry a user name or password")
    if _is_address(parts.hostname):
        raise ValueError(
            f"{what} must name its host, not an IP address (TikTok's rule)"
        )
    if _ESCAPE.search(parts.path):
        raise ValueError(f"{what} must not hold '.' or '..' segments or %2F / %5C")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} has an invalid port") from None
    host = parts.hostname + (f":{port}" if port not in (None, 443) else "")
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{host}{parts.path or '/'}{query}"


def _is_address(host: str) -> bool:
    """Whether ``host`` is an IP address in any spelling a resolver takes
    (``127.1``, ``2130706433``, ``0x7f000001``, a trailing dot): no top-level
    domain is numeric."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        top = host.rstrip(".").rsplit(".", 1)[-1].lower()
        return top.isdigit() or top.startswith("0x")
    return True


def verified_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Checked ``https://`` URL prefixes (a bare origin gets its ``/``).

    A prefix is compared with whole URLs: ``https://media.example.com`` is kept
    as ``https://media.example.com/`` so that it does not also match
    ``https://media.example.com.evil.example/``. A prefix that does not end
    with ``/`` matches as TikTok matches it, letter by letter
    (``https://cdn.example.com/pub`` covers ``/public/`` too).
    """
    return [_canonical(prefix, f"the URL prefix {prefix!r}") for prefix in prefixes]


def check_pull_url(url: Any, prefixes: Sequence[str]) -> str:
    """A media URL TikTok can pull, as it is sent: ``https://``, a host name,
    no way out of its path, and (when the app lists its verified prefixes)
    under one of them."""
    if not isinstance(url, str):
        raise TypeError(f"a media URL is a string, not {type(url).__name__}")
    canonical = _canonical(url, f"the media URL {url!r}")
    if prefixes and not any(canonical.startswith(prefix) for prefix in prefixes):
        raise ValueError(
            f"the media URL {url!r} is not under a URL prefix verified for this app"
            " (TIKTOK_VERIFIED_URL_PREFIXES); TikTok would refuse it"
            " (url_ownership_unverified)"
        )
    return canonical


def _flag(data: Mapping[str, Any], key: str) -> bool:
    return data.get(key) is True


@dataclass(frozen=True)
class CreatorInfo:
    """What TikTok says of the creator before a post (``creator_info/query/``).

    Show :attr:`~CreatorInfo.nickname`, offer only
    :attr:`~CreatorInfo.privacy_level_options` (with no default), and grey
    out the interactions the creator disabled: TikTok's audit checks each.
    """

    #: The creator's display name: show it on the posting page.
    nickname: str
    #: The creator's ``@`` handle.
    username: str
    #: The creator's avatar; lives about two hours: don't store it.
    avatar_url: str | None
    #: The privacy levels this creator may post with (offer these, no default).
    privacy_level_options: list[str]
    #: The creator turned comments off: grey out the Comment option.
    comment_disabled: bool
    #: The creator turned Duet off: grey out the option.
    duet_disabled: bool
    #: The creator turned Stitch off: grey out the option.
    stitch_disabled: bool
    #: The longest video this creator may post, in seconds.
    max_video_post_duration_sec: int | None
    #: TikTok's whole answer.
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CreatorInfo:
        """Build it from the ``data`` of TikTok's answer."""
        options = data.get("privacy_level_options")
        duration = data.get("max_video_post_duration_sec")
        avatar = data.get("creator_avatar_url")
        return cls(
            nickname=str(data.get("creator_nickname") or ""),
            username=str(data.get("creator_username") or ""),
            avatar_url=avatar if isinstance(avatar, str) else None,
            privacy_level_options=[str(o) for o in options]
            if isinstance(options, list)
            else [],
            comment_disabled=_flag(data, "comment_disabled"),
            duet_disabled=_flag(data, "duet_disabled"),
            stitch_disabled=_flag(data, "stitch_disabled"),
            max_video_post_duration_sec=duration
            if isinstance(duration, int) and not isinstance(duration, bool)
            else None,
            data=data,
        )


@dataclass(frozen=True)
class PostStatus:
    """Where a post is (``status/fetch/``)."""

    #: The post's id, from its init.
    publish_id: str
    #: ``PROCESSING_UPLOAD``, ``PROCESSING_DOWNLOAD``, ``SEND_TO_USER_INBOX``,
    #: ``PUBLISH_COMPLETE`` or ``FAILED``.
    status: str
    #: Why it failed (``FAILED`` only), e.g. ``file_format_check_failed``.
    fail_reason: str | None
    #: The public post ids, once TikTok's moderation made the post public.
    post_ids: list[str]
    #: Bytes of the file TikTok has received (a file upload).
    uploaded_bytes: int | None
    #: Bytes TikTok has pulled (a ``PULL_FROM_URL`` post).
    downloaded_bytes: int | None
    #: TikTok's whole answer.
    data: dict[str, Any] = field(repr=False)

    @property
    def done(self) -> bool:
        """Whether the status is final: published, in the inbox, or failed."""
        return self.status in DONE_STATUSES

    @property
    def failed(self) -> bool:
        """Whether the post failed (see :attr:`fail_reason`)."""
        return self.status == "FAILED"

    @classmethod
    def from_data(cls, publish_id: str, data: dict[str, Any]) -> PostStatus:
        """Build it from the ``data`` of TikTok's answer."""
        # TikTok's field is spelt "publicaly"; the correct spelling is
        # accepted too, should TikTok fix it.
        ids = data.get("publicaly_available_post_id")
        if ids is None:
            ids = data.get("publicly_available_post_id")
        reason = data.get("fail_reason")
        return cls(
            publish_id=publish_id,
            status=str(data.get("status") or ""),
            fail_reason=str(reason) if reason else None,
            post_ids=[str(i) for i in ids] if isinstance(ids, list) else [],
            uploaded_bytes=_count(data.get("uploaded_bytes")),
            downloaded_bytes=_count(data.get("downloaded_bytes")),
            data=data,
        )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
