"""The sandbox's own copy of TikTok's scope and field tables.

Kept apart from the client's tables on purpose: a fake that shares the client's
constants cannot catch a mistake in them.
"""

from __future__ import annotations

#: Every scope the sandbox's consent page knows, with the words it shows the user.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "user.info.basic": "Read your profile info (avatar, display name)",
    "user.info.profile": "Read your profile details (bio, username, verified badge)",
    "user.info.stats": "Read your statistics (followers, likes, video count)",
    "video.list": "Read your public videos on TikTok",
    "video.upload": "Share content to TikTok as a draft",
    "video.publish": "Directly post content to your TikTok account",
}

#: Which scope each ``/v2/user/info/`` field needs.
USER_FIELD_SCOPES: dict[str, str] = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}

#: The fields ``/v2/video/list/`` and ``/v2/video/query/`` answer.
VIDEO_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "create_time",
        "cover_image_url",
        "share_url",
        "video_description",
        "duration",
        "height",
        "width",
        "title",
        "embed_html",
        "embed_link",
        "like_count",
        "comment_count",
        "share_count",
        "view_count",
    }
)

#: The scope both video endpoints need.
VIDEO_SCOPE = "video.list"


def parse_scopes(value: str) -> list[str]:
    """Split a comma-separated scope string the way TikTok does, dropping blanks.

    Duplicates are removed, first occurrence wins.
    """
    seen: dict[str, None] = {}
    for part in value.split(","):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


#: The scope of direct posts (``video/init/``, photos with ``DIRECT_POST``).
PUBLISH_SCOPE = "video.publish"
#: The scope of drafts sent to the creator's inbox.
UPLOAD_SCOPE = "video.upload"
