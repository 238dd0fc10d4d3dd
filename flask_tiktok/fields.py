"""Which ``user/info/`` fields each TikTok scope allows."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FIELDS_BY_SCOPE", "KNOWN_FIELDS", "fields_for_scopes"]

#: The ``user/info/`` fields each scope allows. Add new ones at the end: the
#: session cookie holds a profile's fields in this order.
FIELDS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "user.info.basic": (
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
    ),
    "user.info.profile": (
        "bio_description",
        "profile_deep_link",
        "is_verified",
        "username",
    ),
    "user.info.stats": (
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    ),
}


#: Every field of ``user/info/``: a profile object reads an unfetched one as
#: ``None`` and refuses any other name.
KNOWN_FIELDS = frozenset(f for fields in FIELDS_BY_SCOPE.values() for f in fields)


def fields_for_scopes(scopes: Iterable[str]) -> list[str]:
    """Every ``user/info/`` field that ``scopes`` allow, in TikTok's order."""
    granted = set(scopes)
    return [
        f
        for scope, fields in FIELDS_BY_SCOPE.items()
        if scope in granted
        for f in fields
    ]
